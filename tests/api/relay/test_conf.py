"""The nginx-rtmp config rendered from the settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from api.config import RelaySettings, Settings
from api.relay.conf import render_conf
from tests.conftest import require_binary


def settings(**relay: object) -> Settings:
    return Settings.model_validate(
        {
            "profile": "dev",
            "port": 8123,
            "api_tokens": ["dev-token"],
            "relay_secret": "dev-relay-secret",
            "cameras": [{"id": "front", "stream_key": "dev-key"}],
            "relay": RelaySettings.model_validate(relay),
        }
    )


def test_publish_is_checked_by_the_api_and_play_is_loopback_only(tmp_path: Path) -> None:
    conf = render_conf(settings(port=19350), tmp_path)
    assert "listen 0.0.0.0:19350;" in conf
    secret_hook = "http://127.0.0.1:8123/internal/relay/on_publish?secret=dev-relay-secret;"
    assert f"on_publish {secret_hook}" in conf
    assert "on_publish_done http://127.0.0.1:8123/internal/relay/on_publish_done?" in conf
    assert conf.index("allow play 127.0.0.1;") < conf.index("deny play all;")
    assert "daemon off;" in conf
    assert "access_log off;" in conf  # it would log stream keys
    assert f"pid {tmp_path / 'nginx.pid'};" in conf


def test_external_callback_and_play_allow(tmp_path: Path) -> None:
    conf = render_conf(
        settings(callback_url="http://server:8000/", play_allow=["172.28.0.0/16"]), tmp_path
    )
    assert "on_publish http://server:8000/internal/relay/on_publish?" in conf
    assert "allow play 172.28.0.0/16;" in conf
    assert "allow play 127.0.0.1;" not in conf


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = require_binary("nginx")
    conf = tmp_path / "nginx-rtmp.conf"
    (tmp_path / "logs").mkdir()
    conf.write_text(render_conf(settings(port=19351), tmp_path))
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
