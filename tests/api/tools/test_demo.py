"""`doorbell demo` writes the simulated doorbell's settings as TOML keys of the agent: pinned
here by loading them with the agent's own settings class (extra="forbid"), so a renamed agent
setting breaks this test rather than the demo."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from agent.config import AgentSettings
from api.config import generate_config, load_settings
from api.tools.demo import _wait_healthy, agent_config, demo_user, run_demo
from common.settings import load_settings as load
from tests.loopback import LoopbackServer


def test_the_demo_agent_config_loads_as_the_agents_settings(tmp_path: Path) -> None:
    server_toml = tmp_path / "demo.toml"
    server_toml.write_text(generate_config([("front", "Front door")]), encoding="utf-8")
    settings = load_settings(server_toml)
    agent_toml = tmp_path / "agent.toml"
    agent_toml.write_text(agent_config(settings, tmp_path / "agent"), encoding="utf-8")
    agent = load(AgentSettings, agent_toml)
    camera = settings.cameras[0]
    assert agent.camera == camera.id
    assert agent.source == "test"
    assert agent.stream_key.get_secret_value() == camera.stream_key.get_secret_value()
    assert agent.device_token.get_secret_value() == camera.device_token.get_secret_value()
    assert agent.publish_url.startswith(f"rtmp://127.0.0.1:{settings.relay.port}/live/front?key=")
    assert agent.api_url == f"http://127.0.0.1:{settings.port}"
    assert agent.motion.min_area == 0.002


def test_the_demo_makes_its_user_once_and_remembers_the_password(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text(generate_config([("front", "Front door")]), encoding="utf-8")
    config.chmod(0o600)
    name, password = demo_user(config)
    assert (name, len(password) >= 16) == ("demo", True)
    kept = tmp_path / "demo-user.txt"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert demo_user(config) == (name, password)  # the same user next time
    listed = subprocess.run(
        [sys.executable, "-m", "api", "user", "list", "--config", str(config)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert "demo" in listed.stdout
    kept.unlink()  # the password file lost: a new password for the same user
    _, again = demo_user(config)
    assert again != password


class OtherServer(BaseHTTPRequestHandler):
    """Another server's healthy /healthz: its own pid, not the demo's child's."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        reply = json.dumps({"status": "ok", "instance": {"pid": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_second_demo_on_a_taken_port_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as first:  # the first demo's server, listening
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        config = tmp_path / "demo.toml"
        config.write_text(f"port = {port}\n" + generate_config([("front", "Front door")]))
        with pytest.raises(SystemExit, match=f"port {port} is taken"):
            run_demo(config, seconds=1)
    assert "running" not in capsys.readouterr().out
    assert not (tmp_path / "demo-user.txt").exists()  # no server was started to make it


def test_the_demo_believes_only_its_own_servers_health() -> None:
    other = LoopbackServer(OtherServer, "another server")
    other.start()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        with pytest.raises(SystemExit, match=r"answered by another server \(pid 1\)"):
            _wait_healthy(f"{other.origin}/healthz", "token", child)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
        other.stop()
