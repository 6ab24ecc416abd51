"""The relay's nginx config rendered from the settings: the stream front (limits, TLS) and
nginx-rtmp behind it; and what the settings refuse to write into it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.config import RelaySettings, Settings
from api.relay.conf import listen_addresses, render_conf
from tests.conftest import require_binary
from tests.tlscerts import make_ca, make_server_cert

BACKEND = 29350


def settings(profile: str = "dev", secret: str = "dev-relay-secret", **relay: object) -> Settings:
    return Settings.model_validate(
        {
            "profile": profile,
            "port": 8123,
            "api_tokens": ["dev-token-0123456789abcdef"],
            "relay_secret": secret,
            "cameras": [{"id": "front", "stream_key": "dev-key-0123456789abcdef"}],
            "relay": RelaySettings.model_validate(relay),
        }
    )


def block(conf: str, name: str) -> str:
    """The text of the top-level `name { ... }` block."""
    start = conf.index(f"\n{name} {{")
    end = conf.index("\n}\n", start)
    return conf[start:end]


def test_publish_is_checked_by_the_api_and_play_is_loopback_only(tmp_path: Path) -> None:
    conf = render_conf(settings(port=19350), tmp_path, BACKEND)
    rtmp = block(conf, "rtmp")
    secret_hook = "http://127.0.0.1:8123/internal/relay/on_publish?secret=dev-relay-secret;"
    assert f"on_publish {secret_hook}" in rtmp
    assert "on_publish_done http://127.0.0.1:8123/internal/relay/on_publish_done?" in rtmp
    assert rtmp.index("allow play 127.0.0.1;") < rtmp.index("deny play all;")
    assert "daemon off;" in conf
    assert "access_log off;" in rtmp  # it would log stream keys
    assert f"pid {tmp_path / 'nginx.pid'};" in conf


def test_every_connection_goes_through_the_stream_front(tmp_path: Path) -> None:
    conf = render_conf(settings(port=19350, max_conns_per_addr=5), tmp_path, BACKEND)
    stream, rtmp = block(conf, "stream"), block(conf, "rtmp")
    # The public port is the front's; nginx-rtmp listens on loopback only, behind it, and
    # learns each client's address from the PROXY header.
    assert "listen 0.0.0.0:19350;" in stream
    assert f"proxy_pass 127.0.0.1:{BACKEND};" in stream
    assert "proxy_protocol on;" in stream
    assert re.findall(r"^\s*listen .*;$", rtmp, re.M) == [
        f"        listen 127.0.0.1:{BACKEND} proxy_protocol;"
    ]
    # Per-address cap, the segmenters (play_allow) exempt; the handshake bounded.
    assert "limit_conn relay_per_addr 5;" in stream
    assert re.search(r"geo \$relay_exempt \{\s*default 0;\s*127\.0\.0\.1 1;\s*\}", stream)
    assert "timeout 10s;" in rtmp
    assert "worker_connections 4096;" in conf
    assert "worker_rlimit_nofile 4352;" in conf
    assert "ssl" not in stream  # no certificate: no RTMPS


def test_rtmps_listener_with_a_certificate(tmp_path: Path) -> None:
    relay = settings(
        port=19350,
        rtmps_port=19351,
        tls_cert_file=tmp_path / "relay.pem",
        tls_key_file=tmp_path / "relay.key",
        handshake_timeout_s=4,
    )
    stream = block(render_conf(relay, tmp_path, BACKEND), "stream")
    assert "listen 0.0.0.0:19351 ssl;" in stream
    assert f"ssl_certificate {tmp_path / 'relay.pem'};" in stream
    assert f"ssl_certificate_key {tmp_path / 'relay.key'};" in stream
    assert "ssl_handshake_timeout 4s;" in stream
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in stream
    assert relay.relay_plain_rtmp  # dev keeps plain RTMP
    assert listen_addresses(relay) == [("0.0.0.0", 19350), ("0.0.0.0", 19351)]


@pytest.mark.parametrize(
    ("profile", "tls", "plain", "expected"),
    [
        ("dev", True, None, True),
        ("prod", False, None, True),
        ("prod", True, None, False),
        ("prod", True, True, True),
        ("dev", True, False, False),
    ],
)
def test_plain_rtmp_from_other_machines_only_where_configured(
    tmp_path: Path, profile: str, tls: bool, plain: bool | None, expected: bool
) -> None:
    files = {"tls_cert_file": tmp_path / "c.pem", "tls_key_file": tmp_path / "k.pem"}
    relay = settings(
        profile,
        "prod-relay-secret-0123456789",
        port=19350,
        plain_rtmp=plain,
        **(files if tls else {}),
    )
    assert relay.relay_plain_rtmp is expected
    host = "0.0.0.0" if expected else "127.0.0.1"
    assert f"listen {host}:19350;" in block(render_conf(relay, tmp_path, BACKEND), "stream")


def test_without_plain_rtmp_the_segmenters_must_pull_on_this_machine(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"relay\.pull_host 'relay'.*plain_rtmp"):
        settings(
            plain_rtmp=False,
            pull_host="relay",
            tls_cert_file=tmp_path / "c.pem",
            tls_key_file=tmp_path / "k.pem",
        )


@pytest.mark.parametrize(
    ("secret", "relay", "message"),
    [
        ("secret with space-0123", {}, "relay_secret: 1-200 of"),
        ("s;ecret{0123456789abcdef}", {}, "relay_secret: 1-200 of"),
        ("secret&play=1-0123456789", {}, "relay_secret: 1-200 of"),
        ("dev-relay-secret", {"callback_url": "http://server:8000/x;deny"}, "callback_url"),
        ("dev-relay-secret", {"callback_url": "http://ser ver:8000"}, "callback_url"),
        ("dev-relay-secret", {"tls_cert_file": "/a b/c.pem", "tls_key_file": "/k"}, "nginx.conf"),
        ("dev-relay-secret", {"module": "/m.so;\nload_module /x.so"}, "nginx.conf"),
        ("dev-relay-secret", {"run_dir": "/var/$host"}, "nginx.conf"),
        ("dev-relay-secret", {"listen_host": "0.0.0.0; foo"}, "neither an IP address"),
        ("dev-relay-secret", {"tls_cert_file": "/c.pem"}, "set both"),
        ("dev-relay-secret", {"play_allow": ["10.0.0.0/8;"]}, "play_allow"),
    ],
)
def test_values_that_would_change_nginx_conf_are_refused(
    secret: str, relay: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        settings("dev", secret, **relay)


def test_nginx_accepts_the_rendered_config_with_rtmps(tmp_path: Path) -> None:
    nginx = require_binary("nginx")
    server = make_server_cert(make_ca(tmp_path / "ca", "test"), tmp_path)
    conf = tmp_path / "nginx-rtmp.conf"
    (tmp_path / "logs").mkdir()
    relay = settings(
        port=19351, rtmps_port=19352, tls_cert_file=server.cert, tls_key_file=server.key
    )
    conf.write_text(render_conf(relay, tmp_path, BACKEND))
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
