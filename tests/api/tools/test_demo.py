"""`doorbell demo` writes the simulated doorbell's settings as TOML keys of the agent: pinned
here by loading them with the agent's own settings class (extra="forbid"), so a renamed agent
setting breaks this test rather than the demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.config import AgentSettings
from api.config import generate_config, load_settings
from api.tools.demo import agent_config, demo_user
from common.settings import load_settings as load


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
