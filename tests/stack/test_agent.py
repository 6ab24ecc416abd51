"""The agent end to end: `python -m agent run` as a real process with the test profile,
publishing to the real server's nginx-rtmp relay, sending events to a local HTTP receiver.

The tests of this module share one server and one moving-ball agent, in order: the stream
is checked, motion arrives, the relay restarts under the agent, the API goes away while the
doorbell rings, and SIGTERM ends it. The still-scene agent runs on its own camera.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.clock import wall_ms
from tests.conftest import require_binary, wait_for
from tests.receiver import EventReceiver
from tests.stack.harness import Server, spawn, stop

pytestmark = pytest.mark.stack

KEYS = {"front": "front-stream-key-0123456789", "still": "still-stream-key-0123456789"}
DEVICE_TOKEN = "agent-device-token-0123456789"


class Agent:
    """`python -m agent run --config FILE` in a child process."""

    def __init__(
        self, root: Path, server: Server, receiver: EventReceiver, camera: str, **extra: Any
    ):
        require_binary("gst-launch-1.0")
        self.root = root
        self.config = root / f"agent-{camera}.toml"
        self.log = root / f"agent-{camera}.log"
        self.status_path = root / f"status-{camera}.json"
        self.started_ms = wall_ms()
        settings: dict[str, Any] = {
            "camera": camera,
            "relay_url": f"rtmp://127.0.0.1:{server.rtmp_port}/live",
            "stream_key": KEYS[camera],
            "api_url": receiver.url,
            "device_token": DEVICE_TOKEN,
            "source": "test",
            "width": 640,
            "height": 480,
            "fps": 25,
            "bitrate_kbps": 1000,
            "outbox_path": str(root / f"outbox-{camera}.sqlite3"),
            "status_path": str(self.status_path),
            "status_interval_s": 0.5,
            **extra,
        }
        # The ball covers ~0.4 % of a 160x120 motion frame: below the default min_area.
        lines = [f"{k} = {json.dumps(v)}\n" for k, v in settings.items()]
        lines.append("[motion]\nmin_area = 0.003\nmax_area = 0.5\n")
        self.config.write_text("".join(lines))
        self.proc = spawn(
            [sys.executable, "-m", "agent", "run", "--config", str(self.config)], self.log
        )

    def cli(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent", command, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )

    def status(self) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None
        return body

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"agent exited {self.proc.returncode}: {self.log_tail()}")
        return True


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("agent"), KEYS, buffer_seconds=20)
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[EventReceiver]:
    receiver = EventReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def agent(server: Server, receiver: EventReceiver) -> Iterator[Agent]:
    agent = Agent(server.root, server, receiver, "front")
    yield agent
    stop(agent.proc)
    print(agent.log_tail(80))


def ffprobe_relay(url: str, frames: int) -> dict[str, Any]:
    ffprobe = require_binary("ffprobe")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-rw_timeout", "10000000", "-select_streams", "v:0",
         "-read_intervals", f"%+#{frames}",
         "-show_entries",
         "frame=key_frame:stream=codec_name,width,height,pix_fmt,avg_frame_rate,r_frame_rate",
         "-of", "json", url],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    body: dict[str, Any] = json.loads(out.stdout)
    return body


def test_test_profile_publishes_h264_640x480_25fps_with_a_keyframe_every_second(
    server: Server, agent: Agent
) -> None:
    wait_for("front online", lambda: agent.alive() and server.camera("front")["online"], 15)
    body = ffprobe_relay(f"rtmp://127.0.0.1:{server.rtmp_port}/live/front", 80)
    stream = body["streams"][0]
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (640, 480)
    assert stream["pix_fmt"] == "yuv420p"
    assert stream["r_frame_rate"] == "25/1"
    keys = [i for i, frame in enumerate(body["frames"]) if frame["key_frame"] == 1]
    assert len(body["frames"]) >= 75
    assert len(keys) >= 2, keys
    # After the first keyframe: one every 25 frames exactly, and no other.
    assert keys == list(range(keys[0], len(body["frames"]), 25)), keys


def test_moving_ball_yields_motion_start_and_status_shows_the_pipeline(
    agent: Agent, receiver: EventReceiver
) -> None:
    events = wait_for("motion_start", lambda: receiver.of("front", "motion_start"), 15)
    start = events[0]
    assert receiver.authorizations() == {f"Bearer {DEVICE_TOKEN}"}
    assert 0 < start["score"] <= 1
    assert len(start["box"]) == 4
    # A capture time on the wall clock, in ms: since the agent started, not in the future.
    assert agent.started_ms <= start["at_ms"] <= wall_ms()
    result = agent.cli("status")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["pipeline"]["state"] == "PLAYING"
    assert status["pipeline"]["restarts"] == 0
    # Streaming: a stall this long would have restarted the pipeline (stall_seconds = 5).
    assert status["pipeline"]["last_encoded_age_s"] < 5
    assert status["pipeline"]["motion_frames"] > 5
    assert status["outbox"]["sent"] >= 1
    assert status["clock_offset_ms"] is not None


def test_relay_restart_resumes_publishing_without_restarting_the_agent(
    server: Server, agent: Agent
) -> None:
    wait_for("front online", lambda: server.camera("front")["online"], 15)
    pid = agent.proc.pid
    server.stop()
    down_at = time.monotonic()
    wait_for(
        "a pipeline restart",
        lambda: (agent.status() or {}).get("pipeline", {}).get("restarts", 0) >= 1,
        15,
    )
    server.start()
    up_at = time.monotonic()
    wait_for("front online again", lambda: agent.alive() and server.camera("front")["online"], 10)
    resumed_after = time.monotonic() - up_at
    print(f"relay down {up_at - down_at:.1f} s; publishing again {resumed_after:.1f} s after")
    restart_ms = time.time_ns() // 1_000_000 - int((time.monotonic() - up_at) * 1000)
    wait_for(
        "a new segment",
        lambda: [r for r in server.sidecar("front") if r["start_ms"] >= restart_ms],
        10,
    )
    assert agent.proc.pid == pid
    assert agent.proc.poll() is None
    status = agent.status()
    assert status is not None
    assert status["pipeline"]["restarts"] >= 1
    assert status["pipeline"]["last_reason"]


def test_rings_while_the_api_is_down_all_arrive_afterwards_in_order_once(
    agent: Agent, receiver: EventReceiver
) -> None:
    before = len(receiver.of("front", "ring"))
    receiver.stop()
    try:
        ids = []
        for _ in range(3):
            result = agent.cli("ring")
            assert result.returncode == 0, result.stderr
            assert "woken" in result.stdout, result.stdout
            ids.append(result.stdout.split()[1])
        # The API stays down until the woken uplink has tried and failed with the rings queued.
        wait_for(
            "the rings pending behind a refused connection",
            lambda: uplink_failing(agent, pending=3),
            15,
        )
    finally:
        receiver.start()
    wait_for(
        "3 rings delivered", lambda: len(receiver.of("front", "ring")) >= before + 3 or None, 15
    )
    delivered = [e["id"] for e in receiver.of("front", "ring")][before:]
    assert delivered == ids  # in order, none twice
    assert all("clock_offset_ms" in e for e in receiver.of("front", "ring")[before:])


def test_sigterm_ends_the_agent_cleanly_and_ends_the_motion_episode(
    agent: Agent, receiver: EventReceiver
) -> None:
    """Cleanly: every step of the stop ran within its own budget (the agent logs it when one
    does not). How long the stop takes is measured by bench/agent_resources.py."""
    wait_for("agent running", agent.alive, 5)
    started = time.monotonic()
    agent.proc.send_signal(signal.SIGTERM)
    code = agent.proc.wait(10)
    print(f"SIGTERM -> exit {code} in {time.monotonic() - started:.2f} s")
    assert code == 0, agent.log_tail()
    log = agent.log.read_text(errors="replace")
    assert "clean stop took over" not in log, agent.log_tail()
    assert "did not end within" not in log, agent.log_tail()
    ends = receiver.of("front", "motion_end")
    assert ends, agent.log_tail()
    starts = receiver.of("front", "motion_start")
    assert ends[-1]["at_ms"] >= starts[-1]["at_ms"]
    status = agent.status()
    assert status is not None
    assert status["agent"] == "stopped"


def test_a_still_scene_yields_no_motion(server: Server, receiver: EventReceiver) -> None:
    still = Agent(server.root, server, receiver, "still", test_pattern="smpte75", width=320,
                  height=240, bitrate_kbps=300)  # fmt: skip
    try:
        wait_for(
            "50 motion frames (10 s at 5 fps)",
            lambda: (
                still.alive()
                and ((still.status() or {}).get("pipeline", {}).get("motion_frames", 0) >= 50)
            ),
            20,
        )
        assert server.camera("still")["online"]
        assert receiver.of("still") == []
    finally:
        assert stop(still.proc) == 0, still.log_tail()
    assert receiver.of("still") == []


def uplink_failing(agent: Agent, *, pending: int) -> bool:
    """At least `pending` events wait, and the last delivery attempt could not connect."""
    outbox = (agent.status() or {}).get("outbox", {})
    return outbox.get("pending", 0) >= pending and "ConnectError" in (
        outbox.get("last_error") or ""
    )
