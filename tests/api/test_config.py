"""Server settings: TOML and env, clear errors naming the field, no default secrets in prod."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.cli import main
from api.config import Settings, generate_config, load_settings

GOOD = """
profile = "prod"
api_tokens = ["a-long-random-token-0123456789"]
relay_secret = "another-long-secret-0123456789"
buffer_seconds = 60
[[cameras]]
id = "front"
name = "Front door"
stream_key = "a-long-stream-key-0123456789"
"""

BASE: dict[str, Any] = {
    "api_tokens": ["a-long-random-token-0123456789"],
    "relay_secret": "another-long-secret-0123456789",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doorbell.toml"
    path.write_text(text)
    return path


def test_loads_toml_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORBELL_BUFFER_SECONDS", "120")
    monkeypatch.setenv("DOORBELL_RELAY__PORT", "19350")
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.buffer_seconds == 120
    assert settings.relay.port == 19350
    camera = settings.camera("front")
    assert camera is not None
    assert camera.display_name == "Front door"
    assert settings.pull_base == "rtmp://127.0.0.1:19350/live"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (('id = "front"', 'id = "../etc"'), "cameras.0.id", "not allowed"),
        (('id = "front"', 'id = "Front Door"'), "cameras.0.id", "not allowed"),
        (("buffer_seconds = 60", "buffer_seconds = 0"), "buffer_seconds", "greater than"),
        (("buffer_seconds = 60", "bufer_seconds = 60"), "bufer_seconds", "Extra inputs"),
        (
            ("buffer_seconds = 60", "[accounts]\nsession_idle_days = 0"),
            "accounts.session_idle_days",
            "greater than or equal to 1",
        ),
        (
            ("buffer_seconds = 60", "[accounts]\nsession_idle_days = 30\nsession_max_days = 7"),
            "accounts",
            "session_idle_days (30) must not exceed session_max_days (7)",
        ),
        (('"a-long-random-token-0123456789"', '"dev-token"'), "", "api_tokens[0]"),
        (('"a-long-stream-key-0123456789"', '"short"'), "", "cameras[front].stream_key"),
        (("buffer_seconds = 60", '[ops]\nmetrics_token = "short"'), "", "ops.metrics_token"),
    ],
)
def test_invalid_settings_name_the_field(
    tmp_path: Path, change: tuple[str, str], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        load_settings(write(tmp_path, GOOD.replace(*change)))
    text = str(info.value)
    assert field in text
    assert message in text


def test_dev_profile_accepts_example_secrets(tmp_path: Path) -> None:
    text = GOOD.replace('"prod"', '"dev"').replace('"a-long-stream-key-0123456789"', '"dev-key"')
    assert (
        load_settings(write(tmp_path, text)).cameras[0].stream_key.get_secret_value() == "dev-key"
    )


def test_duplicate_cameras_and_missing_tokens_are_refused(tmp_path: Path) -> None:
    twice = GOOD + '[[cameras]]\nid = "front"\nstream_key = "a-long-stream-key-0123456789"\n'
    with pytest.raises(ValidationError, match="duplicate id"):
        load_settings(write(tmp_path, twice))
    with pytest.raises(ValidationError, match="api_tokens"):
        load_settings(write(tmp_path, GOOD.replace('["a-long-random-token-0123456789"]', "[]")))


def test_cli_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("buffer_seconds = 60", "buffer_seconds = -1"))
    with pytest.raises(SystemExit) as info:
        main(["serve", "--config", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "buffer_seconds" in err
    assert "greater than or equal to 5" in err


def test_cli_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--config", str(tmp_path / "nope.toml")])
    assert info.value.code == 2
    assert "does not exist" in capsys.readouterr().err


def test_generated_config_has_fresh_secrets_that_load(tmp_path: Path) -> None:
    a = generate_config([("front", 'Front "door"')], profile="prod")
    b = generate_config([("front", "Front")], profile="prod")
    settings = load_settings(write(tmp_path, a))
    assert settings.cameras[0].name == 'Front "door"'
    assert settings.api_tokens[0].get_secret_value() not in b
    metrics_token = settings.ops.metrics_token.get_secret_value()
    assert len(metrics_token) >= 16
    assert metrics_token not in b
    assert metrics_token in settings.ops_tokens


def test_init_config_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the config's data_dir, var, is relative
    path = tmp_path / "c.toml"
    assert main(["init-config", str(path), "--camera", "front:Front door", "--camera", "back"]) == 0
    assert [c.id for c in load_settings(path).cameras] == ["front", "back"]
    assert path.stat().st_mode & 0o077 == 0
    assert main(["init-config", str(path)]) == 2


def test_init_config_writes_0600_also_over_a_readable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    previous = os.umask(0o022)
    try:
        path = tmp_path / "c.toml"
        path.write_text("# an old config, readable by everyone\n")
        path.chmod(0o644)
        assert main(["init-config", str(path), "--force"]) == 0
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_settings(path).cameras[0].id == "front"
        assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700  # the data directory
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "var"]
    finally:
        os.umask(previous)


def test_init_config_makes_the_web_push_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.toml"
    assert main(["init-config", str(path)]) == 0
    key = tmp_path / "var" / "vapid.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert str(key) in capsys.readouterr().out
    pem = key.read_bytes()
    assert main(["init-config", str(path), "--force"]) == 0
    assert key.read_bytes() == pem  # a new key would unsubscribe every browser
    key.write_text("not a key")
    assert main(["init-config", str(path), "--force"]) == 2
    assert "not a PEM private key" in capsys.readouterr().err


@pytest.mark.parametrize(
    "subject",
    [
        "mailto:ops@example.net",
        "mailto:me@localhost",
        "https://door.example.net",
        "https://localhost",
    ],
)
def test_web_push_subjects_push_services_accept(subject: str) -> None:
    settings = Settings(**{**BASE, "push": {"web_push_subject": subject}})
    assert settings.web_push_subject == subject


@pytest.mark.parametrize(
    "subject",
    ["ops@example.net", "mailto:ops", "https://door.example.net/", "https://door.example.net:8443",
     "http://door.example.net", "mailto:a b@example.net"],
)  # fmt: skip
def test_other_web_push_subjects_are_refused(subject: str) -> None:
    with pytest.raises(ValidationError, match=r"push\.web_push_subject[\s\S]*mailto:you@") as info:
        Settings(**{**BASE, "push": {"web_push_subject": subject}})
    assert info.value.error_count() == 1


@pytest.mark.parametrize(
    ("public_url", "subject"),
    [
        ("https://door.example.net", "https://door.example.net"),
        ("https://Door.Example.net/doorbell/", "https://door.example.net"),
        ("https://door.example.net:8443", "mailto:doorbell@door.example.net"),
        ("http://nas.lan:8000", "mailto:doorbell@nas.lan"),
        ("http://nas:8000", "mailto:doorbell@localhost"),
        ("https://192.168.1.2", "mailto:doorbell@localhost"),
        ("", "mailto:doorbell@localhost"),  # http://127.0.0.1:8000
    ],
)
def test_the_default_web_push_subject_comes_from_the_public_url(
    public_url: str, subject: str
) -> None:
    settings = Settings(**{**BASE, "public_url": public_url})
    assert settings.web_push_subject == subject
    assert settings.vapid_key_file == settings.data_dir / "vapid.pem"


def _setting_names(model: type[BaseModel], prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and name != "cameras":
            names += _setting_names(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def test_the_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([a-z_.]+)`", row.split("|")[1])}
    missing = [name for name in _setting_names(Settings) if name not in documented]
    assert missing == [], f"settings missing from the README's table: {missing}"


@pytest.mark.parametrize(
    ("webrtc", "problem"),
    [
        ({"udp_port_min": 9000, "udp_port_max": 8999}, "must not exceed udp_port_max"),
        ({"additional_hosts": ["doorbell.example.net"]}, "is not an IP address"),
        ({"ice_servers": [{"urls": ["http://stun.example.net"]}]}, "is not a STUN/TURN URL"),
        (
            {"ice_servers": [{"urls": ["turn:turn.example.net"]}]},
            "needs a username and a credential",
        ),
        ({"max_viewers": 0}, "greater than or equal to 1"),
    ],
)
def test_webrtc_settings_name_what_is_wrong(webrtc: dict[str, Any], problem: str) -> None:
    from api.config import WebRtcSettings

    with pytest.raises(ValidationError, match=problem):
        WebRtcSettings.model_validate(webrtc)


def test_webrtc_settings_take_stun_turn_and_public_addresses() -> None:
    from api.config import WebRtcSettings

    settings = WebRtcSettings.model_validate(
        {
            "additional_hosts": ["203.0.113.7", "2001:db8::7"],
            "ice_servers": [
                {"urls": ["stun:stun.example.net:3478", "stun:[2001:db8::1]"]},
                {
                    "urls": ["turns:turn.example.net:5349?transport=tcp"],
                    "username": "u",
                    "credential": "c",
                },
            ],
        }
    )
    assert settings.additional_hosts == ["203.0.113.7", "2001:db8::7"]
    assert settings.ice_servers[1].credential.get_secret_value() == "c"
