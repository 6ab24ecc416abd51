"""`doorbell demo`: relay + server + a simulated doorbell on this machine, for a first look."""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.config import Settings, generate_config, load_settings
from api.private import write_private

HEALTH_TIMEOUT_S = 30.0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _answered_by(url: str, token: str) -> int | None:
    """The pid of the server process that answered /healthz healthy, else None."""
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=1)
        if response.status_code == 200:
            pid: int = response.json()["instance"]["pid"]
            return pid
    return None


def _wait_healthy(url: str, token: str, server: subprocess.Popen[bytes]) -> None:
    """Return once the server this demo started (not another one on the port) says it is
    healthy; exit with a message if it ends first or takes too long."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"doorbell demo: the server exited with status {server.returncode}")
        pid = _answered_by(url, token)
        if pid == server.pid:
            return
        if pid is not None:
            raise SystemExit(
                f"doorbell demo: {url} is answered by another server (pid {pid}), not ours"
            )
        time.sleep(0.2)  # poll interval while the server starts
    raise SystemExit(f"doorbell demo: {url} not healthy after {HEALTH_TIMEOUT_S:g}s")


def agent_config(settings: Settings, state_dir: Path) -> str:
    """Settings of the simulated doorbell: the agent's `test` profile (GStreamer test scene,
    x264 in place of the Pi's hardware encoder), publishing to this relay and posting its
    events to this API."""
    camera = settings.cameras[0]
    values: dict[str, str | int] = {
        "camera": camera.id,
        "relay_url": f"rtmp://127.0.0.1:{settings.relay.port}/live",
        "stream_key": camera.stream_key.get_secret_value(),
        "api_url": f"http://127.0.0.1:{settings.port}",
        "device_token": camera.device_token.get_secret_value(),
        "source": "test",
        "width": 640,
        "height": 480,
        "bitrate_kbps": 1500,
        "outbox_path": str(state_dir / "outbox.sqlite3"),
        "status_path": str(state_dir / "agent-status.json"),
    }
    lines = ["# The demo's simulated doorbell (written by `doorbell demo`)."]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    # The test scene's ball covers ~0.4 % of the frame; a real doorway wants the default.
    lines += ["", "[motion]", "min_area = 0.002"]
    return "\n".join(lines) + "\n"


DEMO_USER = "demo"


def _prepare(config: Path) -> tuple[Settings, Path]:
    """The demo's settings (made with fresh secrets the first time) and its agent's TOML."""
    if not config.exists():
        write_private(config, generate_config([("front", "Front door")], profile="dev"))
        print(f"doorbell demo: wrote {config} with fresh secrets")
    settings = load_settings(config)
    camera = settings.cameras[0]
    if not camera.device_token.get_secret_value():
        raise SystemExit(
            f"doorbell demo: {config} has no device_token for camera {camera.id!r} (it predates "
            "events); delete the file and run the demo again for a fresh one"
        )
    agent_toml = config.parent / "agent.toml"
    write_private(agent_toml, agent_config(settings, config.parent / "agent"))
    return settings, agent_toml


def demo_user(config: Path) -> tuple[str, str]:
    """The demo's user for the app, made once with a random password kept beside the config
    (mode 0600), so the demo prints how to sign in every time."""
    kept = config.parent / "demo-user.txt"
    if kept.exists():
        name, _, password = kept.read_text(encoding="utf-8").strip().partition("\n")
        return name, password
    password = secrets.token_urlsafe(12)
    for action in ("add", "passwd"):  # passwd: the user exists but its password was lost
        made = subprocess.run(
            [sys.executable, "-m", "api", "user", action, DEMO_USER, "--password-stdin",
             "--config", str(config)],
            input=password, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        if made.returncode == 0:
            write_private(kept, f"{DEMO_USER}\n{password}\n")
            return DEMO_USER, password
    raise SystemExit(f"doorbell demo: could not make the demo user: {made.stderr.strip()}")


def _banner(settings: Settings, config: Path, agent_toml: Path, user: tuple[str, str]) -> str:
    base = f"http://127.0.0.1:{settings.port}"
    token = settings.api_tokens[0].get_secret_value()
    camera = settings.cameras[0]
    publish = (
        f"rtmp://127.0.0.1:{settings.relay.port}/live/{camera.id}"
        f"?key={camera.stream_key.get_secret_value()}"
    )
    return "\n".join(
        [
            "",
            "Doorbell is running (Ctrl-C stops it):",
            f"  the app       {base}/   sign in as {user[0]} / {user[1]}",
            f"  API docs      {base}/docs",
            f"  health        {base}/healthz",
            f"  API token     {token}",
            f"  cameras       curl -H 'Authorization: Bearer {token}' {base}/api/v1/cameras",
            f"  last 10 s     curl -OJ -H 'Authorization: Bearer {token}' "
            f"'{base}/api/v1/cameras/{camera.id}/clip?seconds=10'",
            f"  events        curl -H 'Authorization: Bearer {token}' {base}/api/v1/events",
            f"  ring it       .venv/bin/doorbell-agent ring --config {agent_toml}",
            f"  publish URL   {publish}   (the simulated doorbell: doorbell-agent, test profile)",
            f"  settings      {config}",
            "",
        ]
    )


def run_demo(config: Path, seconds: float) -> int:
    settings, agent_toml = _prepare(config)
    base = f"http://127.0.0.1:{settings.port}"
    if _port_taken("127.0.0.1", settings.port):
        raise SystemExit(
            f"doorbell demo: port {settings.port} is taken (another demo or server?); "
            f"stop it, or set another port in {config}"
        )
    server = subprocess.Popen([sys.executable, "-m", "api", "serve", "--config", str(config)])
    camera_proc: subprocess.Popen[bytes] | None = None
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _wait_healthy(f"{base}/healthz", settings.api_tokens[0].get_secret_value(), server)
        user = demo_user(config)
        camera_proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "--config",
             str(agent_toml)]
        )  # fmt: skip
        print(_banner(settings, config, agent_toml, user), flush=True)
        deadline = time.monotonic() + seconds if seconds > 0 else float("inf")
        while time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)  # the demo's idle wait; children run on their own
        if seconds > 0 and server.poll() is None:
            auth = {"Authorization": f"Bearer {settings.api_tokens[0].get_secret_value()}"}
            cameras = httpx.get(f"{base}/api/v1/cameras", headers=auth, timeout=5).json()
            print(json.dumps(cameras, indent=2))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if camera_proc is not None:
            _stop(camera_proc)
        _stop(server)
    return 0 if server.returncode in (0, -signal.SIGTERM) else 1
