"""docker-compose.yml, its Dockerfiles and its settings file, checked without a Docker engine.

`docker-compose config` (Debian's Compose v1, installed by `scripts/bootstrap.sh --dev`)
validates the file against the Compose schema and prints it normalised: absolute paths,
variables interpolated, long-form ports. That output is YAML. It is turned into JSON by
the Python interpreter that runs docker-compose itself (its `#!` line): docker-compose
reads YAML with PyYAML, so that interpreter always has it, and this project needs no YAML
dependency of its own.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from agent.config import AgentSettings
from api.config import Settings, load_settings
from api.relay.conf import render_conf

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    name.rstrip("*")
    for name in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SETTINGS_FILE = ROOT / "infra" / "compose" / "doorbell.toml"
CONFIG_TARGET = "/etc/doorbell/doorbell.toml"
SERVICES = {"relay", "server", "camera", "caddy"}
CADDYFILE = ROOT / "infra" / "caddy" / "Caddyfile"
HINT = "run scripts/bootstrap.sh --dev (it installs Debian's docker-compose package)"
TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"


def _docker_compose() -> Path:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(f"docker-compose is not installed: {HINT}")
    return Path(exe).resolve()


def _interpreter(compose: Path) -> list[str]:
    """The argv prefix of the Python that runs `compose` (a v1 console script)."""
    first_line = compose.read_bytes()[:256].split(b"\n", 1)[0].decode("utf-8", "replace")
    if not first_line.startswith("#!") or "python" not in first_line:
        pytest.fail(
            f"{compose} is not the Python docker-compose v1 (first line {first_line!r}); {HINT}"
        )
    return first_line[2:].split()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The normalised compose model, as `docker-compose config` prints it."""
    exe = _docker_compose()
    # The file's defaults, not whatever the developer's shell exports.
    env = {
        k: v for k, v in os.environ.items() if k != "STREAM_KEY" and not k.startswith("COMPOSE_")
    }
    result = subprocess.run(
        [str(exe), "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config rejects {COMPOSE_FILE}:\n{result.stderr}"
    parsed = subprocess.run(
        [*_interpreter(exe), "-c", TO_JSON],
        input=result.stdout,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert parsed.returncode == 0, f"cannot parse docker-compose config output:\n{parsed.stderr}"
    model: dict[str, Any] = json.loads(parsed.stdout)
    return model


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """infra/compose/doorbell.toml as the containers load it (no DOORBELL_* from this shell)."""
    for name in list(os.environ):
        if name.upper().startswith("DOORBELL_"):
            monkeypatch.delenv(name)
    return load_settings(SETTINGS_FILE)


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"][name]
    return service


def _mount(service: dict[str, Any], target: str) -> dict[str, Any]:
    """The service's volume mounted at `target`, in long form whichever form the file used."""
    for volume in service.get("volumes", []):
        mount = volume
        if isinstance(volume, str):  # short form "source:target[:ro]"
            source, _, rest = volume.partition(":")
            vol_target, _, mode = rest.partition(":")
            mount = {"source": source, "target": vol_target, "read_only": "ro" in mode.split(",")}
        if mount["target"] == target:
            return dict(mount)
    raise AssertionError(f"no volume mounted at {target}: {service.get('volumes')}")


def _bytes(size: str | int) -> int:
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"(\d+)([bkmg]?)b?", size.strip().lower())
    assert match, f"unreadable size {size!r}"
    scale: int = 1024 ** "bkmg".index(match[2] or "b")
    return int(match[1]) * scale


def _dockerfile(service: dict[str, Any]) -> tuple[Path, Path]:
    build = service["build"]
    context = Path(build["context"])
    return context, context / build.get("dockerfile", "Dockerfile")


def test_compose_file_is_valid_and_has_the_four_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_server_uses_the_relay_service_instead_of_its_own(compose: dict[str, Any]) -> None:
    server = _service(compose, "server")["command"]
    relay = _service(compose, "relay")["command"]
    assert server[0] == "serve"
    assert "--no-relay" in server
    assert server[server.index("--config") + 1] == CONFIG_TARGET
    assert relay[0] == "relay"
    assert relay[relay.index("--config") + 1] == CONFIG_TARGET


def test_relay_and_server_mount_the_same_settings_read_only(compose: dict[str, Any]) -> None:
    server = _mount(_service(compose, "server"), CONFIG_TARGET)
    relay = _mount(_service(compose, "relay"), CONFIG_TARGET)
    assert Path(server["source"]) == Path(relay["source"]) == SETTINGS_FILE
    assert server["read_only"] is True
    assert relay["read_only"] is True


@pytest.mark.parametrize(
    ("name", "entrypoint"),
    [("server", ["doorbell"]), ("relay", ["doorbell"]), ("camera", ["doorbell-agent"])],
)
def test_each_dockerfile_exists_with_what_it_copies(
    compose: dict[str, Any], name: str, entrypoint: list[str]
) -> None:
    context, dockerfile = _dockerfile(_service(compose, name))
    assert context == ROOT
    assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
    # Continuation lines joined, comments dropped: one instruction per line.
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    bases = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert bases, f"{dockerfile.name}: no FROM"
    assert all("bookworm" in base for base in bases), bases
    copies = [line.split()[1:] for line in lines if line.upper().startswith("COPY ")]
    assert copies, f"{dockerfile.name}: copies nothing of the project"
    copied: set[str] = set()
    for args in copies:
        if any(a.startswith("--from=") for a in args):
            continue  # from an earlier build stage, not the context
        sources = [a for a in args if not a.startswith("--")][:-1]
        for source in sources:
            assert (context / source).exists(), f"{dockerfile.name} copies missing {source}"
        copied.update(sources)
    # `pip install .` packages what pyproject.toml includes: every package must be there.
    copied = {source.split("/")[0] for source in copied}
    missing = sorted(set(PACKAGES) - copied)
    assert not missing, f"{dockerfile.name} does not copy the packages {missing}"
    entry = [
        json.loads(line[len("ENTRYPOINT") :]) for line in lines if line.startswith("ENTRYPOINT")
    ]
    assert entry == [entrypoint]


def test_ports_are_published_on_loopback_only(compose: dict[str, Any], settings: Settings) -> None:
    published = {
        name: [str(p) for p in service.get("ports", [])]
        for name, service in compose["services"].items()
    }
    # WebRTC's ports: the whole range the media worker takes viewers' ports from.
    ports = range(settings.webrtc.udp_port_min, settings.webrtc.udp_port_max + 1)
    webrtc = [f"127.0.0.1:{p}:{p}/{proto}" for proto in ("udp", "tcp") for p in ports]
    assert sorted(published["server"]) == sorted(["127.0.0.1:8000:8000/tcp", *webrtc])
    assert published["relay"] == ["127.0.0.1:1935:1935/tcp"]
    assert published["camera"] == []
    assert published["caddy"] == ["127.0.0.1:8443:443/tcp"]


def test_start_order_waits_for_health(compose: dict[str, Any], settings: Settings) -> None:
    server, relay, camera = (_service(compose, n) for n in ("server", "relay", "camera"))
    assert relay["depends_on"] == {"server": {"condition": "service_healthy"}}
    assert camera["depends_on"] == {"relay": {"condition": "service_healthy"}}
    probe = " ".join(server["healthcheck"]["test"])
    assert f"http://127.0.0.1:{settings.port}/healthz" in probe
    assert str(settings.relay.port) in " ".join(relay["healthcheck"]["test"])
    assert all(s["restart"] == "unless-stopped" for s in (server, relay, camera))


def test_server_has_room_for_the_buffer_and_a_data_volume(
    compose: dict[str, Any], settings: Settings
) -> None:
    server = _service(compose, "server")
    assert str(settings.buffer_dir).startswith("/dev/shm/")
    assert settings.buffer_max_bytes * len(settings.cameras) < _bytes(server["shm_size"])
    data = _mount(server, str(settings.data_dir))
    assert data["type"] == "volume"
    assert data["source"] in compose["volumes"]


def test_network_matches_what_the_settings_expect(
    compose: dict[str, Any], settings: Settings
) -> None:
    (ipam,) = compose["networks"]["doorbell"]["ipam"]["config"]
    subnet = ipaddress.ip_network(ipam["subnet"])
    server_ip = ipaddress.ip_address(
        _service(compose, "server")["networks"]["doorbell"]["ipv4_address"]
    )
    # Only the server (its segmenters pull from the relay) may play.
    assert settings.relay.play_allow == [str(server_ip)]
    assert server_ip in subnet
    assert server_ip not in ipaddress.ip_network(ipam["ip_range"])  # never handed out twice
    # The host names in the settings are compose service names.
    assert urlsplit(settings.callback_base).hostname == "server"
    assert urlsplit(settings.callback_base).port == settings.port
    assert settings.relay.pull_host == "relay"
    assert {"server", "relay"} <= set(compose["services"])


def test_camera_is_the_agent_with_the_configured_key_and_token(
    compose: dict[str, Any], settings: Settings
) -> None:
    camera_service = _service(compose, "camera")
    assert camera_service["command"] == ["run"]
    env = {k: str(v) for k, v in camera_service["environment"].items()}
    # What the agent would load from that environment, checked by its own settings class.
    fields: dict[str, Any] = {
        k.removeprefix("DOORBELL_AGENT_").lower(): v for k, v in env.items() if "__" not in k
    }
    agent = AgentSettings(**fields)
    camera = settings.camera(agent.camera)
    assert camera is not None
    assert agent.source == "test"
    assert agent.stream_key.get_secret_value() == camera.stream_key.get_secret_value()
    assert agent.device_token.get_secret_value() == camera.device_token.get_secret_value()
    assert agent.relay_url == f"rtmp://relay:{settings.relay.port}/live"
    assert agent.api_url == f"http://server:{settings.port}"
    assert float(env["DOORBELL_AGENT_MOTION__MIN_AREA"]) < 0.004  # the test ball counts


def test_compose_settings_load(settings: Settings) -> None:
    assert settings.profile == "dev"
    assert [c.id for c in settings.cameras] == ["front"]
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == Path("/var/lib/doorbell")
    assert settings.relay.listen_host == "0.0.0.0"


def test_relay_conf_rendered_from_the_compose_settings(settings: Settings, tmp_path: Path) -> None:
    conf = render_conf(settings, tmp_path, 19350)
    secret = settings.relay_secret.get_secret_value()
    assert "listen 0.0.0.0:1935;" in conf  # the stream front; dev keeps plain RTMP
    assert settings.relay_plain_rtmp
    assert "allow play 172.28.0.10;" in conf
    assert "        172.28.0.10 1;" in conf  # the server's segmenters: not held to the cap
    assert conf.index("allow play 172.28.0.10;") < conf.index("deny play all;")
    assert "access_log off;" in conf
    assert f"on_publish http://server:8000/internal/relay/on_publish?secret={secret};" in conf
    assert (
        f"on_publish_done http://server:8000/internal/relay/on_publish_done?secret={secret};"
        in conf
    )


def test_caddy_proxies_https_to_the_server_which_believes_only_it(
    compose: dict[str, Any], settings: Settings
) -> None:
    caddy = _service(compose, "caddy")
    mount = _mount(caddy, "/etc/caddy/Caddyfile")
    assert Path(mount["source"]) == CADDYFILE
    assert mount["read_only"] is True
    assert _mount(caddy, "/data")["source"] in compose["volumes"]  # its certificates and CA
    assert caddy["command"][caddy["command"].index("--config") + 1] == "/etc/caddy/Caddyfile"
    assert caddy["environment"]["DOORBELL_UPSTREAM"] == f"server:{settings.port}"
    assert caddy["depends_on"] == {"server": {"condition": "service_healthy"}}
    assert caddy["restart"] == "unless-stopped"
    # The server believes X-Forwarded-Proto from Caddy's fixed address, and from no other
    # container (a client of the published port 8000 cannot claim HTTPS).
    (ipam,) = compose["networks"]["doorbell"]["ipam"]["config"]
    address = ipaddress.ip_address(caddy["networks"]["doorbell"]["ipv4_address"])
    assert address in ipaddress.ip_network(ipam["subnet"])
    assert address not in ipaddress.ip_network(ipam["ip_range"])
    trusted = [ipaddress.ip_network(p) for p in settings.tls.trusted_proxies]
    assert any(address in network for network in trusted)
    assert all(n.num_addresses == 1 for n in trusted), "trust single addresses, not the subnet"
    assert not settings.tls.enabled  # Caddy terminates TLS; the server speaks HTTP behind it
    assert settings.tls.hsts_max_age_s == 0  # never pin `localhost` to HTTPS in a browser


def test_the_caddyfile_reverse_proxies_with_streaming(tmp_path: Path) -> None:
    """The shipped Caddyfile as Caddy reads it: for the domain given, everything goes to
    the upstream given, flushed at once (the event stream)."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy is not installed: run scripts/bootstrap.sh --dev")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DOORBELL_DOMAIN": "doorbell.example.net",
        "DOORBELL_UPSTREAM": "server:8000",
    }
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    assert "Caddyfile input is not formatted" not in adapted.stderr
    (server,) = json.loads(adapted.stdout)["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    (route,) = server["routes"]
    assert route["match"] == [{"host": ["doorbell.example.net"]}]
    handlers = json.dumps(route["handle"])
    proxies = [h for h in _handlers(route["handle"]) if h.get("handler") == "reverse_proxy"]
    assert len(proxies) == 1, handlers
    assert proxies[0]["upstreams"] == [{"dial": "server:8000"}]
    assert proxies[0]["flush_interval"] == -1
    assert '"encode"' not in handlers  # a compressor would hold back the event stream


def _handlers(handle: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for handler in handle:
        out.append(handler)
        for route in handler.get("routes", []):
            out += _handlers(route.get("handle", []))
    return out
