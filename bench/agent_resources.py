"""Benchmark: the agent's own CPU and memory with the test profile, the software encoder apart.

The real agent (`python -m agent run`, test profile: videotestsrc ball, 640x480, 25 fps,
x264enc, motion branch at 160x120 5 fps with the detector) publishes to a private nginx-rtmp
relay and sends its motion events to a local stand-in for the API. Once the pipeline is
PLAYING and a warm-up has passed, every thread's utime+stime (/proc/PID/task/TID/stat) is
read at both ends of a steady-state window, and the process's VmRSS every second.

The encoder's share is read from the same run, by thread: x264enc encodes in the streaming
thread of the queue in front of it (`queue0:src`, the first queue of the pipeline; with it
h264parse and the `encoded` probe, both tiny), and libx264's worker threads are created by
that thread, so they carry its name. Agent minus those threads is the figure for a Pi whose
hardware encoder replaces x264enc. Cross-check: the identical source and encoder run alone
under gst-launch-1.0 (same description up to h264parse, then fakesink), and once without the
encoder: the encoder thread's CPU should match, and the RSS difference is x264's memory.

Threads are grouped by their OS names: GStreamer names streaming threads after their pad,
the agent names its GLib and motion threads (agent/threads.py); the main thread is the
asyncio loop; the rest (default executor, SQLite, GLib's workers) is "other".

    .venv/bin/python bench/agent_resources.py            # 3 runs: 10-s warm-up, 30-s window
    .venv/bin/python bench/agent_resources.py --quick    # 1 run: 5-s warm-up, 10-s window
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import (
    CLK_TCK,
    cpu_seconds,
    markdown_table,
    memory_kib,
    private_relay,
    stop,
    tail,
    wait_until,
)
from pydantic import SecretStr

from agent.config import AgentSettings
from agent.pipeline import describe

READY_TIMEOUT_S = 30.0
WIDTH, HEIGHT, FPS, BITRATE_KBPS = 640, 480, 25, 1000  # the stack test's test profile
# Thread groups, by OS thread name (comm, at most 15 bytes). First match wins.
ENCODER = "encoder (x264enc thread + x264 workers)"
GROUPS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    (ENCODER, lambda comm: comm == "queue0:src"),
    ("test source (videotestsrc, tee)", lambda comm: comm.startswith("videotestsrc")),
    ("motion branch (scale, convert, appsink copy)", lambda comm: comm == "queue1:src"),
    ("motion detector", lambda comm: comm == "motion"),
    ("flvmux + rtmp2sink", lambda comm: comm.startswith("flvmux") or comm.startswith("task")),
    ("GLib loop (bus, state changes)", lambda comm: comm == "glib"),
)
MAIN = "asyncio loop (main thread)"
OTHER = "other (executor, SQLite, GLib workers)"


# -- /proc, per thread -----------------------------------------------------------------------
def threads(pid: int) -> dict[int, tuple[str, int]]:
    """tid -> (OS name, utime + stime in ticks) of every live thread of `pid`."""
    out: dict[int, tuple[str, int]] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return out
    for task in tasks:
        try:
            text = (task / "stat").read_text(encoding="ascii", errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended between the listing and the read
        # comm is in parentheses and may contain spaces: split after the last ')'.
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        out[int(task.name)] = (comm, int(fields[11]) + int(fields[12]))
    return out


def group_of(pid: int, tid: int, comm: str) -> str:
    if tid == pid:
        return MAIN
    return next((name for name, match in GROUPS if match(comm)), OTHER)


@dataclass
class Window:
    """CPU (% of one core) per thread group and memory of one process over one window."""

    seconds: float
    total_pct: float
    groups_pct: dict[str, float]
    threads: dict[str, int]  # threads per group at the end of the window
    rss_mib: float  # median of the per-second samples
    hwm_mib: float  # peak RSS since the process started


def measure_window(pid: int, window_s: float, alive: Callable[[], None]) -> Window:
    """Per-thread CPU between both ends of `window_s`, RSS sampled every second."""
    first, total0, t0 = threads(pid), cpu_seconds(pid), time.monotonic()
    rss: list[int] = []
    while (elapsed := time.monotonic() - t0) < window_s:
        time.sleep(min(1.0, window_s - elapsed))  # the sampling interval
        alive()
        rss.append(memory_kib(pid)["VmRSS"])
    last, total1, seconds = threads(pid), cpu_seconds(pid), time.monotonic() - t0
    hwm = memory_kib(pid)["VmHWM"]
    if total0 is None or total1 is None:
        raise RuntimeError(f"process {pid} ended during the window")
    groups: dict[str, float] = {}
    counts: dict[str, int] = {}
    for tid, (comm, ticks) in last.items():
        name = group_of(pid, tid, comm)
        # A thread born in the window counts from zero; one that ended is left in "other".
        used = ticks - first.get(tid, (comm, 0))[1]
        groups[name] = groups.get(name, 0.0) + 100.0 * used / CLK_TCK / seconds
        counts[name] = counts.get(name, 0) + 1
    total = 100.0 * (total1 - total0) / seconds
    groups[OTHER] = groups.get(OTHER, 0.0) + total - sum(groups.values())
    return Window(seconds, total, groups, counts, statistics.median(rss) / 1024, hwm / 1024)


# -- the API stand-in --------------------------------------------------------------------------
@contextmanager
def event_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """POST /api/v1/agent/events on a free loopback port, answered 200 with the server time
    (what the uplink expects); yields (base URL, the events received)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            reply = json.dumps({"server_time_ms": time.time_ns() // 1_000_000}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="event-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- the agent -------------------------------------------------------------------------------
def settings(relay_port: int, api_url: str, work: Path) -> dict[str, Any]:
    return {
        "camera": "bench",
        "relay_url": f"rtmp://127.0.0.1:{relay_port}/live",
        "stream_key": "bench-stream-key-0123456789",
        "api_url": api_url,
        "device_token": "bench-device-token-0123456789",
        "source": "test",
        "test_pattern": "ball",
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "bitrate_kbps": BITRATE_KBPS,
        "outbox_path": str(work / "outbox.sqlite3"),
        "status_path": str(work / "status.json"),
        "status_interval_s": 2.0,  # the default
    }


def status(path: Path) -> dict[str, Any]:
    try:
        body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return body


@dataclass
class AgentRun:
    window: Window
    motion_frames: int  # in the window
    events: list[str]  # the kinds of event the API stand-in received, start to stop
    stop_s: float  # SIGTERM -> exit
    exit_code: int


def run_agent(relay_port: int, args: argparse.Namespace) -> AgentRun:
    with (
        tempfile.TemporaryDirectory(prefix="doorbell-bench-agent-") as tmp,
        event_sink() as (api_url, received),
    ):
        work = Path(tmp)
        values = settings(relay_port, api_url, work)
        lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        # As in the stack test: the ball (~0.4 % of a 160x120 frame) counts as motion.
        lines += ["[motion]", "min_area = 0.003", "max_area = 0.5", ""]
        config = work / "agent.toml"
        config.write_text("\n".join(lines), encoding="utf-8")
        log = work / "agent.log"
        status_path = Path(values["status_path"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOORBELL_")}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agent", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:

            def alive() -> None:
                if proc.poll() is not None:
                    raise RuntimeError(f"agent exited {proc.returncode}: {tail(log)}")

            def publishing() -> bool:
                alive()
                pipeline = status(status_path).get("pipeline", {})
                age = pipeline.get("last_encoded_age_s")
                return pipeline.get("state") == "PLAYING" and age is not None and age < 1

            wait_until("the agent publishing", publishing, READY_TIMEOUT_S, 0.2)
            time.sleep(args.warmup)  # settling (x264 and the detector warm up), not readiness
            before = status(status_path)
            window = measure_window(proc.pid, args.window, alive)
            after = status(status_path)
            if after["pipeline"]["restarts"] != before["pipeline"]["restarts"]:
                raise RuntimeError(f"the pipeline restarted in the window: {after['pipeline']}")
            frames = after["pipeline"]["motion_frames"] - before["pipeline"]["motion_frames"]
        finally:
            stopped = time.monotonic()
            stop([proc], 10)
            stop_s = time.monotonic() - stopped
        # The stop ends the open motion episode and lets the uplink drain: motion_end is in.
        events = [str(event.get("kind")) for event in received]
        return AgentRun(window, frames, events, stop_s, proc.returncode)


# -- the reference: the same source and encoder under gst-launch-1.0 ---------------------------
def reference_pipelines() -> dict[str, str]:
    """The agent's own description up to the encoder (source, caps, tee, queue, x264enc),
    then h264parse and fakesink; and the same without the encoder."""
    s = AgentSettings(
        camera="bench",
        relay_url="rtmp://127.0.0.1:1/live",
        stream_key=SecretStr("bench-stream-key-0123456789"),
        api_url="http://127.0.0.1:1",
        device_token=SecretStr("bench-device-token-0123456789"),
        source="test",
        test_pattern="ball",
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        bitrate_kbps=BITRATE_KBPS,
    )
    head = describe(s).split(" ! h264parse", 1)[0]
    if "x264enc" not in head or head.count("queue") != 1:
        raise SystemExit(f"unexpected pipeline shape, update this benchmark: {head}")
    without = head[: head.rindex(" ! x264enc")]
    return {
        "encoder": f"{head} ! h264parse config-interval=-1 ! fakesink sync=true",
        "no encoder": f"{without} ! fakesink sync=true",
    }


def run_reference(description: str, warmup_s: float, window_s: float) -> Window:
    gst_launch = shutil.which("gst-launch-1.0")
    if gst_launch is None:
        raise SystemExit("gst-launch-1.0 is not installed: run scripts/bootstrap.sh --dev")
    proc = subprocess.Popen(
        [gst_launch, "-q", *description.split()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def alive() -> None:
            if proc.poll() is not None:
                raise RuntimeError(f"gst-launch exited {proc.returncode}")

        def streaming() -> bool:
            alive()
            return any(comm == "queue0:src" and t > 0 for comm, t in threads(proc.pid).values())

        wait_until("gst-launch streaming", streaming, READY_TIMEOUT_S, 0.2)
        time.sleep(warmup_s)  # settling, as for the agent
        return measure_window(proc.pid, window_s, alive)
    finally:
        stop([proc])


# -- driver ----------------------------------------------------------------------------------
@dataclass
class Repeat:
    agent: AgentRun
    encoder_alone: Window
    no_encoder: Window

    @property
    def encoder_pct(self) -> float:
        return self.agent.window.groups_pct.get(ENCODER, 0.0)

    @property
    def own_pct(self) -> float:
        return self.agent.window.total_pct - self.encoder_pct

    @property
    def x264_mib(self) -> float:
        return self.encoder_alone.rss_mib - self.no_encoder.rss_mib


@dataclass
class Results:
    repeats: list[Repeat] = field(default_factory=list)
    window_s: float = 0.0
    ref_window_s: float = 0.0


def measure(args: argparse.Namespace) -> Results:
    results = Results(window_s=args.window, ref_window_s=args.ref_window)
    pipelines = reference_pipelines()
    with private_relay() as port:
        for i in range(args.runs):
            agent = run_agent(port, args)
            alone = run_reference(pipelines["encoder"], args.ref_warmup, args.ref_window)
            bare = run_reference(pipelines["no encoder"], args.ref_warmup, args.ref_window)
            repeat = Repeat(agent, alone, bare)
            results.repeats.append(repeat)
            print(
                f"agent_resources: run {i + 1}/{args.runs}: agent "
                f"{agent.window.total_pct:.1f}% of a core, encoder {repeat.encoder_pct:.1f}%, "
                f"own {repeat.own_pct:.1f}%, RSS {agent.window.rss_mib:.0f} MiB; "
                f"encoder alone {alone.groups_pct.get(ENCODER, 0.0):.1f}%",
                file=sys.stderr,
            )
    return results


def _med(values: Sequence[float]) -> float:
    return statistics.median(values)


def _spread(values: Sequence[float], digits: int = 1) -> str:
    """median (min-max) over the runs."""
    med = _med(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def markdown(results: Results) -> str:
    reps = results.repeats
    agent = [r.agent.window for r in reps]
    source = "test source (videotestsrc, tee)"
    own = [r.own_pct for r in reps]
    own_no_source = [r.own_pct - r.agent.window.groups_pct.get(source, 0.0) for r in reps]
    rows = [
        ["agent process, total", _spread([w.total_pct for w in agent]), "all threads"],
        ["encoder (x264enc thread + x264 workers)", _spread([r.encoder_pct for r in reps]), ""],
        [
            "**agent minus encoder**",
            f"**{_spread(own)}**",
            "what a Pi with the hardware encoder would still run (with videotestsrc)",
        ],
        [
            "agent minus encoder and test source",
            _spread(own_no_source),
            "the Pi's libcamerasrc, not measured here, replaces videotestsrc",
        ],
        [
            "motion detector thread",
            _spread([w.groups_pct.get("motion detector", 0.0) for w in agent], 2),
            "",
        ],
        [
            "encoder alone under gst-launch-1.0 (cross-check)",
            _spread([r.encoder_alone.groups_pct.get(ENCODER, 0.0) for r in reps]),
            f"{results.ref_window_s:g}-s window",
        ],
    ]
    runs = f"{len(reps)} run{'' if len(reps) == 1 else 's'}"
    out = f"CPU, % of one core, median (min-max) of {runs}, "
    out += f"{results.window_s:g}-s window:\n\n"
    out += markdown_table(["", "CPU %", "note"], rows)

    names = [name for name, _ in GROUPS] + [MAIN, OTHER]
    group_rows = [
        [
            name,
            _spread([w.groups_pct.get(name, 0.0) for w in agent], 2),
            str(max(w.threads.get(name, 0) for w in agent)),
        ]
        for name in names
    ]
    out += "\n\nThe agent by thread group (OS thread names), % of one core:\n\n"
    out += markdown_table(["thread group", "CPU %", "threads"], group_rows)

    x264 = [r.x264_mib for r in reps]
    rss = [w.rss_mib for w in agent]
    memory = [
        ["agent VmRSS (median of 1-s samples)", _spread(rss)],
        ["agent VmHWM (peak RSS since start)", _spread([w.hwm_mib for w in agent])],
        ["x264 (gst-launch RSS with minus without the encoder)", _spread(x264)],
        [
            "**agent RSS minus x264**",
            f"**{_spread([a - b for a, b in zip(rss, x264, strict=True)])}**",
        ],
        ["gst-launch with the encoder, RSS", _spread([r.encoder_alone.rss_mib for r in reps])],
    ]
    out += "\n\nMemory, MiB:\n\n" + markdown_table(["", "MiB"], memory)
    frames = [r.agent.motion_frames / r.agent.window.seconds for r in reps]
    events = " / ".join(", ".join(r.agent.events) or "none" for r in reps)
    stops = [r.agent.stop_s for r in reps]
    codes = sorted({r.agent.exit_code for r in reps})
    out += (
        f"\n\nMotion frames analysed: {_spread(frames)} per second. Events the API stand-in "
        f"received per run (start to stop): {events}. Agent stop (SIGTERM to exit): "
        f"{_spread(stops, 2)} s, exit codes {codes}."
    )
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repeats (medians over them)")
    parser.add_argument("--warmup", type=float, default=10.0, help="agent warm-up, s")
    parser.add_argument("--window", type=float, default=30.0, help="agent window, s")
    parser.add_argument("--ref-warmup", type=float, default=5.0, help="gst-launch warm-up, s")
    parser.add_argument("--ref-window", type=float, default=15.0, help="gst-launch window, s")
    parser.add_argument("--quick", action="store_true", help="1 run, short windows")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmup, args.window, args.ref_warmup, args.ref_window = 1, 5, 10, 3, 5
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(markdown(measure(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
