"""`doorbell demo`: relay + server + a simulated doorbell on this machine, for a first look."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.config import generate_config, load_settings

HEALTH_TIMEOUT_S = 30.0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"doorbell demo: the server exited with status {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)  # poll interval while the server starts
    raise SystemExit(f"doorbell demo: {url} not healthy after {HEALTH_TIMEOUT_S:g}s")


def run_demo(config: Path, seconds: float) -> int:
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.touch(mode=0o600)
        config.write_text(
            generate_config([("front", "Front door")], profile="dev"), encoding="utf-8"
        )
        print(f"doorbell demo: wrote {config} with fresh secrets")
    settings = load_settings(config)
    camera = settings.cameras[0]
    base = f"http://127.0.0.1:{settings.port}"
    token = settings.api_tokens[0].get_secret_value()
    publish = (
        f"rtmp://127.0.0.1:{settings.relay.port}/live/{camera.id}"
        f"?key={camera.stream_key.get_secret_value()}"
    )
    server = subprocess.Popen([sys.executable, "-m", "api", "serve", "--config", str(config)])
    camera_proc: subprocess.Popen[bytes] | None = None
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _wait_healthy(f"{base}/healthz", server)
        camera_proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "--log-level", "WARNING", "simulate", "--url", publish]
        )
        print(
            "\n".join(
                [
                    "",
                    "Doorbell is running (Ctrl-C stops it):",
                    f"  API docs      {base}/docs",
                    f"  health        {base}/healthz",
                    f"  API token     {token}",
                    f"  cameras       curl -H 'Authorization: Bearer {token}' "
                    f"{base}/api/v1/cameras",
                    f"  last 10 s     curl -OJ -H 'Authorization: Bearer {token}' "
                    f"'{base}/api/v1/cameras/{camera.id}/clip?seconds=10'",
                    f"  live (HLS)    signed URLs: {base}/api/v1/cameras/{camera.id}/signed-urls",
                    f"  publish URL   {publish}   (the simulated doorbell uses it)",
                    f"  settings      {config}",
                    "",
                ]
            ),
            flush=True,
        )
        deadline = time.monotonic() + seconds if seconds > 0 else float("inf")
        while time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)  # the demo's idle wait; children run on their own
        if seconds > 0 and server.poll() is None:
            auth = {"Authorization": f"Bearer {token}"}
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
