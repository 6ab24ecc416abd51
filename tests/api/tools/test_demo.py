"""`doorbell demo` writes the simulated doorbell's settings as TOML keys of the agent: pinned
here by loading them with the agent's own settings class (extra="forbid"), so a renamed agent
setting breaks this test rather than the demo."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentSettings
from api.config import generate_config, load_settings
from api.tools.demo import agent_config
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
