"""Agent settings: TOML and env, bounds, allow-lists, clear errors naming the field (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.cli import main
from agent.config import AgentSettings, MotionSettings
from common.settings import load_settings

GOOD = """
camera = "front"
relay_url = "rtmp://server.lan:1935/live"
stream_key = "front-stream-key-0123456789"
api_url = "https://server.lan:8000/"
device_token = "device-token-0123456789"
source = "test"
width = 640
height = 480
[motion]
min_area = 0.02
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_loads_toml_env_overrides_and_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORBELL_AGENT_FPS", "15")
    monkeypatch.setenv("DOORBELL_AGENT_MOTION__COOLDOWN_MS", "500")
    s = load_settings(AgentSettings, write(tmp_path, GOOD))
    assert (s.fps, s.width, s.height, s.source) == (15, 640, 480, "test")
    assert (s.motion.min_area, s.motion.cooldown_ms) == (0.02, 500)
    assert (s.motion_width, s.motion_height, s.motion_fps) == (160, 120, 5)
    assert s.stall_seconds == 5
    assert s.button_pin is None
    assert s.api_url == "https://server.lan:8000"
    assert s.publish_url == "rtmp://server.lan:1935/live/front?key=front-stream-key-0123456789"
    assert s.outbox_path.name == "outbox.sqlite3"
    assert "front-stream-key" not in repr(s)  # secrets stay hidden


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('camera = "front"', 'camera = "../etc"'), "camera"),
        (('camera = "front"', 'camera = "front\\n"'), "camera"),  # `$` alone would pass it
        (('"rtmp://server.lan:1935/live"', '"http://server.lan/live"'), "relay_url"),
        (('"front-stream-key-0123456789"', '"key\\" ! fakesink"'), "stream_key"),
        (('"front-stream-key-0123456789"', '"a&b=c"'), "stream_key"),
        (('"https://server.lan:8000/"', '"ftp://server"'), "api_url"),
        (('source = "test"', 'source = "webcam"'), "source"),
        (("width = 640", "width = 100000"), "width"),
        (("min_area = 0.02", "min_area = 2"), "motion.min_area"),
        (("width = 640", "widht = 640"), "widht"),
        (("width = 640", 'device = "/etc/passwd"'), "device"),
        (("width = 640", "button_pin = 99"), "button_pin"),
    ],
)
def test_invalid_settings_name_the_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        load_settings(AgentSettings, write(tmp_path, GOOD.replace(*change)))
    assert field in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_cli_reports_invalid_config_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("fps", "x").replace("width = 640", "width = 1"))
    with pytest.raises(SystemExit) as info:
        main(["status", "--config", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "width:" in err
    assert "greater than or equal to 160" in err


def test_cli_missing_config_file_exits_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--config", str(tmp_path / "nope.toml")])
    assert info.value.code == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alpha", 0.0, "greater than 0"),
        ("alpha", 1.5, "less than or equal to 1"),
        ("pixel_threshold", 0, "greater than or equal to 1"),
        ("pixel_threshold", 255, "less than or equal to 254"),
        ("min_area", 0.0, "greater than 0"),
        ("max_area", 1.2, "less than or equal to 1"),
        ("start_frames", 0, "greater than or equal to 1"),
        ("end_frames", 0, "greater than or equal to 1"),
        ("cooldown_ms", -1, "greater than or equal to 0"),
        ("zones", [[(0.1, 0.1), (0.9, 0.1)]], "at least 3 items"),
        ("zones", [[(0.1, 0.1), (1.2, 0.1), (0.5, 0.9)]], "less than or equal to 1"),
        ("zones", [[(-0.1, 0.1), (0.9, 0.1), (0.5, 0.9)]], "greater than or equal to 0"),
        ("zones", [[(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)]], "no area"),
        ("min_area", 0.6, "must be below max_area"),
        ("sensitivity", 3, "Extra inputs are not permitted"),
    ],
)
def test_motion_settings_are_validated(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MotionSettings.model_validate({field: value})


def test_motion_zones_come_as_lists_from_a_config_file() -> None:
    settings = MotionSettings.model_validate(
        {"zones": [[[0, 0], [1, 0], [1, 0.5]], [[0.2, 0.6], [0.4, 0.6], [0.3, 0.9]]]}
    )
    assert settings.zones[0] == ((0.0, 0.0), (1.0, 0.0), (1.0, 0.5))
    assert len(settings.zones) == 2


def test_relay_ca_file_is_for_rtmps_and_must_exist(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not yet a certificate")
    rtmps = GOOD.replace("rtmp://server.lan:1935", "rtmps://server.lan:1936")
    s = load_settings(AgentSettings, write(tmp_path, f'relay_ca_file = "{ca}"\n{rtmps}'))
    assert s.relay_ca_file == ca
    assert s.publish_url.startswith("rtmps://server.lan:1936/live/front?key=")
    with pytest.raises(ValidationError, match="relay_ca_file is for an rtmps:// relay_url"):
        load_settings(AgentSettings, write(tmp_path, f'relay_ca_file = "{ca}"\n{GOOD}'))
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValidationError, match="is not a file"):
        load_settings(AgentSettings, write(tmp_path, f'relay_ca_file = "{missing}"\n{rtmps}'))


def test_a_ca_file_without_a_certificate_stops_the_agent_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    rtmps = GOOD.replace("rtmp://server.lan:1935", "rtmps://server.lan:1936")
    config = write(tmp_path, f'relay_ca_file = "{ca}"\n{rtmps}')
    assert main(["run", "--config", str(config)]) == 2
    assert f"relay_ca_file '{ca}'" in capsys.readouterr().err
