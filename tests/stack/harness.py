"""Real processes for the stack tests: the server (with its nginx-rtmp relay), publishers.

Every process is started here and stopped by its own handle (terminate, bounded wait, kill).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.conftest import require_binary, wait_for

TOKEN = "stack-test-token-0123456789"
RELAY_SECRET = "stack-relay-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A child process whose stdout and stderr are appended to `log` (unbuffered Python)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


def device_token(camera_id: str) -> str:
    """The device token the harness gives each camera's agent."""
    return f"{camera_id}-device-token-0123456789"


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def stop(proc: subprocess.Popen[Any], timeout_s: float = 10) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    return proc.returncode


@dataclass
class Server:
    """`doorbell serve` in a child process, with its own ports, buffer and relay."""

    root: Path
    cameras: dict[str, str]
    buffer_seconds: int = 60
    extra: dict[str, Any] = field(default_factory=dict)
    relay: bool = True
    relay_extra: dict[str, Any] = field(default_factory=dict)  # more [relay] settings
    webrtc_extra: dict[str, Any] = field(default_factory=dict)  # [webrtc] settings
    # Where the data and buffer directories are (default: `root`): two servers given the same
    # one run on the same state.
    state: Path | None = None
    # Fake FCM: firebase-admin in the server process sends there (tests/stack/run_server.py).
    fcm_url: str | None = None
    http_port: int = field(default_factory=free_port)
    rtmp_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # RLIMIT_NOFILE (soft and hard) of the server process, set with prlimit(1): None keeps ours.
    nofile: int | None = None

    def __post_init__(self) -> None:
        require_binary("nginx")
        require_binary("ffmpeg")
        self.config = self.root / "doorbell.toml"
        self.log = self.root / "server.log"
        state = self.state or self.root
        self.data_dir = state / "data"
        self.buffer_dir = state / "buffer"
        lines = [
            'profile = "prod"',
            f"port = {self.http_port}",
            f"api_tokens = [{json.dumps(TOKEN)}]",
            f"relay_secret = {json.dumps(RELAY_SECRET)}",
            f'data_dir = "{self.data_dir}"',
            f'buffer_dir = "{self.buffer_dir}"',
            f"buffer_seconds = {self.buffer_seconds}",
        ]
        lines += [f"{k} = {_toml(v)}" for k, v in self.extra.items()]
        lines += ["[relay]", f"port = {self.rtmp_port}", f"enabled = {json.dumps(self.relay)}"]
        lines += [f"{k} = {_toml(v)}" for k, v in self.relay_extra.items()]
        lines += ["[webrtc]", *(f"{k} = {_toml(v)}" for k, v in self.webrtc_extra.items())]
        for camera_id, key in self.cameras.items():
            lines += [
                "[[cameras]]",
                f'id = "{camera_id}"',
                f"stream_key = {json.dumps(key)}",
                f"device_token = {json.dumps(device_token(camera_id))}",
            ]
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def publish_url(self, camera: str, key: str | None = None) -> str:
        key = self.cameras.get(camera, "x") if key is None else key
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{camera}?key={key}"

    def start(self, wait_healthy: bool = True) -> None:
        argv = [sys.executable, "-m", "api", "serve", "--config", str(self.config)]
        env = {}
        if self.fcm_url is not None:
            argv[1:3] = [str(Path(__file__).with_name("run_server.py"))]
            env["DOORBELL_TEST_FCM_URL"] = self.fcm_url
        if self.nofile is not None:
            # prlimit execs the server: the pid stays the server's.
            argv = [require_binary("prlimit"), f"--nofile={self.nofile}:{self.nofile}", *argv]
        self.proc = spawn(argv, self.log, env)
        if wait_healthy:
            wait_for(f"server healthy ({self.log_tail()})", self._healthy, 60)

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}: {self.log_tail()}")
        try:
            return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        assert self.proc is not None
        return stop(self.proc)

    def log_tail(self, n: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def get(self, path: str, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.base}{path}", headers=headers, timeout=5)

    def camera(self, camera_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/cameras/{camera_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def health(self) -> dict[str, Any]:
        """/healthz with its details (loops, cameras, instance): the API token reads them."""
        body: dict[str, Any] = self.get("/healthz").json()
        return body

    def sidecar(self, camera_id: str) -> list[dict[str, Any]]:
        path = self.buffer_dir / camera_id / "index.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def segment_files(self, camera_id: str) -> list[Path]:
        directory = self.buffer_dir / camera_id
        return sorted(directory.glob("seq-*.ts")) if directory.exists() else []


def simcam(url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A simulated doorbell publishing to `url` (rtmp://HOST:PORT/APP/CAMERA?key=KEY): the
    agent's real `run` command with its `test` source, a moving ball at 640x480 25 fps, x264
    with a 1-s GOP. Its events go to an API nobody answers: the uplink keeps them in its
    outbox (in a directory next to `log`) and retries. `extra` are more agent settings as
    `name=value`, e.g. "test_pattern=smpte75" or "fps=15"."""
    require_binary("gst-launch-1.0")
    parts = urlsplit(url)
    relay, _, camera = parts.path.rpartition("/")
    state = Path(tempfile.mkdtemp(prefix=f"{log.stem}-", dir=log.parent))
    settings: dict[str, Any] = {
        "camera": camera,
        "relay_url": f"{parts.scheme}://{parts.netloc}{relay}",
        "stream_key": dict(parse_qsl(parts.query)).get("key", ""),
        "api_url": f"http://127.0.0.1:{free_port()}",  # closed: events wait in the outbox
        "device_token": device_token(camera),
        "source": "test",
        "width": 640,
        "height": 480,
        "fps": 25,
        "bitrate_kbps": 1500,
        "outbox_path": str(state / "outbox.sqlite3"),
        "status_path": str(state / "status.json"),
    }
    for item in extra:
        name, _, value = item.partition("=")
        settings[name] = int(value) if value.isdigit() else value
    config = state / "agent.toml"
    config.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in settings.items()))
    return spawn([sys.executable, "-m", "agent", "run", "--config", str(config)], log)


def ffmpeg_publisher(h264: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    """The original system's publisher: raw H.264 replayed at real time, stream copy to FLV."""
    ffmpeg = require_binary("ffmpeg")
    return spawn(
        [ffmpeg, "-nostdin", "-v", "error", "-re", "-f", "h264", "-framerate", "25",
         "-i", str(h264), "-c", "copy", "-f", "flv", url],
        log,
    )  # fmt: skip


def ffprobe_frames(path: Path, count: int = 3) -> list[dict[str, Any]]:
    ffprobe = require_binary("ffprobe")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals", f"%+#{count}",
         "-show_entries", "frame=key_frame,pict_type,pts_time:stream=codec_name,width,height",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    body = json.loads(out.stdout)
    frames: list[dict[str, Any]] = body.get("frames", [])
    for frame in frames:
        frame["stream"] = body["streams"][0]
    return frames


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def seed_buffer(
    server: Server, camera: str, files: list[Path], end_ms: int
) -> list[dict[str, Any]]:
    """Put `files` in the camera's buffer as if recorded back to back until `end_ms`: the
    segment files and the sidecar lines the segmenter would have written (its contract)."""
    directory = server.buffer_dir / camera
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    start = end_ms - 1000 * len(files)
    for seq, source in enumerate(files):
        name = f"seq-{seq:09d}.ts"
        shutil.copyfile(source, directory / name)
        rows.append(
            {"seq": seq, "session": 1, "start_ms": start + seq * 1000,
             "end_ms": start + (seq + 1) * 1000, "size": source.stat().st_size,
             "keyframe_start": True, "file": name}
        )  # fmt: skip
    (directory / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a clip: format duration, the video stream, the first frame."""
    ffprobe = require_binary("ffprobe")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries",
         "format=duration,format_name:stream=codec_name,width,height",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    body: dict[str, Any] = json.loads(out.stdout)
    body["first_frame"] = ffprobe_frames(path, 1)[0]
    return body


def decode_errors(path: Path) -> str:
    """What ffmpeg says when decoding every frame (empty: clean)."""
    ffmpeg = require_binary("ffmpeg")
    out = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return out.stderr.strip() or ("" if out.returncode == 0 else f"exit {out.returncode}")
