"""Benchmark: how many cameras one host keeps segmenting in real time, with the real server.

Per step of N cameras: a TOML config with N cameras (buffer in /dev/shm, the rest in a temp
dir, free ports) and `doorbell serve --config FILE` as a child, with its own nginx-rtmp relay
and N stream-copy segmenters. N simulated cameras publish a pre-encoded 640x480 25 fps
1-s-GOP ~1.5 Mbit/s file in a loop (`ffmpeg -re -stream_loop -1 ... -c copy`), started at
--ramp cameras per second; like a real doorbell, a publisher refused during the ramp-up is
started again. Once every camera has a first segment and --settle has passed, the window
runs: every second GET /api/v1/cameras (a camera is *late* when its newest segment ends more
than --late-ms before the answer) and CPU per process group from /proc. After it, each
camera's sidecar (index.jsonl) must cover the window: no missing segment, no sequence gap, no
new session, no time gap, no segmenter restart, no publisher exit. N steps up until a step
fails.

    .venv/bin/python bench/streams_per_host.py                 # 10..200 cameras; 60-s window
    .venv/bin/python bench/streams_per_host.py --quick         # 5 and 10 cameras; 15-s window
    .venv/bin/python bench/streams_per_host.py --steps 50 --window 120
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    CpuMeter,
    MachineCpu,
    descendants,
    encode,
    free_port,
    markdown_table,
    pss_bytes,
    publisher_argv,
    start_time,
    stop,
    tail,
    wait_until,
)

HEALTH_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 5.0
SERVER_STOP_TIMEOUT_S = 20.0


@dataclass
class Step:
    """One step's outcome. CPU figures are % of one core over the window."""

    cameras: int
    problems: list[str] = field(default_factory=list)
    late_polls: int = 0
    missing: int = 0
    seq_gaps: int = 0
    time_gaps: int = 0
    new_sessions: int = 0
    restarts: int = 0
    publish_retries: int = 0  # publishers started again during the ramp-up
    worst_age_ms: int = 0
    api_worst_ms: int = 0
    machine_pct: float = 0.0  # busy share of the whole machine, all users
    cpu_pct: dict[str, float] = field(default_factory=dict)
    pss_mb: dict[str, float] = field(default_factory=dict)
    buffer_mb: float = 0.0
    load1: float = 0.0
    measured: bool = False  # the window ran (False: the step failed before it)

    @property
    def passed(self) -> bool:
        return not self.problems


# -- the server under test -------------------------------------------------------------------
class Server:
    """`doorbell serve` with N cameras as a child process, its config and ports private."""

    def __init__(self, work: Path, shm: Path, keys: dict[str, str], buffer_seconds: int) -> None:
        self.token = secrets.token_urlsafe(24)
        self.http_port, self.rtmp_port = free_port(), free_port()
        self.config = work / "doorbell.toml"
        self.log = work / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            'profile = "dev"',
            'host = "127.0.0.1"',
            f"port = {self.http_port}",
            f"data_dir = {json.dumps(str(work / 'data'))}",
            f"buffer_dir = {json.dumps(str(shm))}",
            f"buffer_seconds = {buffer_seconds}",
            f'api_tokens = ["{self.token}"]',
            f'relay_secret = "{secrets.token_urlsafe(24)}"',
            "",
            "[relay]",
            'listen_host = "127.0.0.1"',
            f"port = {self.rtmp_port}",
            "",
        ]
        for camera, key in keys.items():
            lines += ["[[cameras]]", f'id = "{camera}"', f'stream_key = "{key}"', ""]
        self.config.write_text("\n".join(lines), encoding="utf-8")

    def start(self) -> None:
        doorbell = Path(sys.executable).with_name("doorbell")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOORBELL_")}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(doorbell), "serve", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"server exited: {tail(self.log)}")

    def get(self, path: str) -> tuple[int, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}")
        request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def healthy(self) -> bool:
        self.check_alive()
        with contextlib.suppress(OSError):  # not listening yet, or a slow answer
            return self.get("/healthz")[0] == 200
        return False

    def cameras(self) -> list[dict[str, Any]]:
        status, body = self.get("/api/v1/cameras")
        if status != 200:
            raise RuntimeError(f"GET /api/v1/cameras answered {status}")
        return list(body)

    def recording(self) -> int:
        """How many cameras have a first segment (-1 if the API was too slow to say)."""
        self.check_alive()
        try:
            return sum(c["buffer"]["segments"] > 0 for c in self.cameras())
        except OSError:
            return -1

    def stop(self) -> None:
        """SIGTERM (the server reaps its relay and segmenters); if it had to be killed, end
        the children it left behind, by pid (and start time, so a reused pid is left alone)."""
        if self.proc is None:
            return
        children = {pid: start_time(pid) for pid in descendants(self.proc.pid)}

        def left() -> list[int]:
            return [pid for pid, t in children.items() if start_time(pid) == t]

        stop([self.proc], SERVER_STOP_TIMEOUT_S)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in left():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            with contextlib.suppress(TimeoutError):
                wait_until("orphans to exit", lambda: not left(), 5)


# -- reading the outcome ---------------------------------------------------------------------
def sidecar_rows(directory: Path) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in (directory / "index.jsonl").read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                row = json.loads(line)
                rows[int(row["seq"])] = row
    return [rows[seq] for seq in sorted(rows)]


def check_window(
    step: Step, camera: str, rows: list[dict[str, Any]], start_ms: int, end_ms: int
) -> None:
    """Add this camera's missing segments and discontinuities inside the window to `step`."""
    inside = [r for r in rows if start_ms < r["end_ms"] <= end_ms]
    before = [r for r in rows if r["end_ms"] <= start_ms]
    chain = before[-1:] + inside
    expected = round((end_ms - start_ms) / 1000)
    missing = max(0, expected - 1 - len(inside))  # one of slack for the window's edges
    seq_gaps = sum(b["seq"] != a["seq"] + 1 for a, b in itertools.pairwise(chain))
    # Segments are laid end to end; the server re-anchors (a gap) only when one is >1 s late.
    time_gaps = sum(b["start_ms"] != a["end_ms"] for a, b in itertools.pairwise(chain))
    sessions = len({r["session"] for r in chain}) - 1 if chain else 0
    step.missing += missing
    step.seq_gaps += seq_gaps
    step.time_gaps += time_gaps
    step.new_sessions += max(sessions, 0)
    if missing or seq_gaps or time_gaps or sessions:
        step.problems.append(
            f"{camera}: {len(inside)}/{expected} segments, {seq_gaps} seq gaps, "
            f"{time_gaps} time gaps, {sessions} new sessions"
        )


def classify(server_pid: int, publishers: list[int]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {"server": [server_pid], "relay": [], "segmenters": []}
    for pid in descendants(server_pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            groups["relay" if name == "nginx" else "segmenters"].append(pid)
    groups["publishers"] = publishers
    return groups


# -- one step --------------------------------------------------------------------------------
class Cameras:
    """The simulated cameras. Like a real doorbell, one whose publish fails is started again
    (`revive`) while ramping up; in the measurement window an exit is a failure."""

    def __init__(self, source: Path, port: int, keys: dict[str, str], log: Path) -> None:
        self._urls = {c: f"rtmp://127.0.0.1:{port}/live/{c}?key={k}" for c, k in keys.items()}
        self._source = source
        self._log = log
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.retries = 0

    def _spawn(self, camera: str) -> None:
        with self._log.open("ab") as err:
            self.procs[camera] = subprocess.Popen(
                publisher_argv(self._source, self._urls[camera], loop=True),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def start(self, per_second: float) -> None:
        for camera in self._urls:
            self._spawn(camera)
            time.sleep(1 / per_second)  # the ramp; it also spreads the keyframes' phases

    def revive(self) -> None:
        for camera in self.dead():
            self.retries += 1
            self._spawn(camera)

    def dead(self) -> list[str]:
        return [c for c, p in self.procs.items() if p.poll() is not None]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def stop(self) -> None:
        stop(self.procs.values())


def wait_recording(server: Server, cameras: Cameras, n: int) -> None:
    seen = [0]

    def all_recording() -> bool:
        cameras.revive()
        seen[0] = server.recording()
        return seen[0] == n

    try:
        wait_until(f"all {n} cameras recording", all_recording, 30 + 0.3 * n, 0.5)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc} (last count: {seen[0]})") from None


def run_step(n: int, source: Path, args: Any) -> Step:
    step = Step(n)
    keys = {f"cam{i:02d}": secrets.token_urlsafe(12) for i in range(n)}
    with (
        tempfile.TemporaryDirectory(prefix="doorbell-bench-hosts-") as tmp,
        tempfile.TemporaryDirectory(prefix="doorbell-bench-", dir="/dev/shm") as shm_tmp,
    ):
        work, shm = Path(tmp), Path(shm_tmp)
        # Long enough that the whole window is still in the sidecars when they are checked.
        server = Server(work, shm, keys, int(args.window + args.settle + 60))
        publisher_log = work / "publishers.log"
        cameras = Cameras(source, server.rtmp_port, keys, publisher_log)
        try:
            server.start()
            wait_until("GET /healthz == 200", server.healthy, HEALTH_TIMEOUT_S, 0.2)
            cameras.start(args.ramp)
            wait_recording(server, cameras, n)
            time.sleep(args.settle)  # settling time, not readiness: all are recording
            step.publish_retries = cameras.retries
            measure_window(step, server, cameras, shm, args)
            step.measured = True
        except (TimeoutError, RuntimeError, OSError) as exc:
            step.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            step.publish_retries = cameras.retries
            server.stop()
            cameras.stop()
        if not step.passed:
            step.problems.append(f"server log: {tail(server.log, 3)}")
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(server.log, args.log_dir / f"server-{n}.log")
                shutil.copy(publisher_log, args.log_dir / f"publishers-{n}.log")
    return step


def measure_window(
    step: Step,
    server: Server,
    cameras: Cameras,
    shm: Path,
    args: Any,
) -> None:
    groups = classify(server.pid, cameras.pids)
    meters = {name: CpuMeter() for name in groups}
    for name, pids in groups.items():
        meters[name].start(pids)
    machine0 = MachineCpu.now()
    restarts0 = {c["id"]: c["segmenter_restarts"] for c in server.cameras()}
    start_ms, t0 = time.time_ns() // 1_000_000, time.monotonic()
    late: dict[str, int] = {}
    body: list[dict[str, Any]] = []
    while (elapsed := time.monotonic() - t0) < args.window:
        time.sleep(min(1.0, args.window - elapsed))  # the polling interval
        sent = time.monotonic()
        try:
            body = server.cameras()
        except (OSError, RuntimeError) as exc:
            step.problems.append(f"API poll failed: {exc}")
            continue
        step.api_worst_ms = max(step.api_worst_ms, int((time.monotonic() - sent) * 1000))
        now_ms = time.time_ns() // 1_000_000
        for camera in body:
            age = now_ms - (camera["buffer"]["end_ms"] or 0)
            step.worst_age_ms = max(step.worst_age_ms, age)
            if age > args.late_ms:
                late[camera["id"]] = late.get(camera["id"], 0) + 1
        groups = classify(server.pid, cameras.pids)
        for name, pids in groups.items():
            meters[name].sample(pids)
    seconds = time.monotonic() - t0
    end_ms = time.time_ns() // 1_000_000
    step.machine_pct = MachineCpu.now().percent_since(machine0)
    step.cpu_pct = {name: 100 * m.seconds / seconds for name, m in meters.items()}
    step.pss_mb = {
        name: sum(pss_bytes(pid) for pid in pids) / 2**20 for name, pids in groups.items()
    }
    step.load1 = float(Path("/proc/loadavg").read_text().split()[0])
    step.buffer_mb = sum(c["buffer"]["bytes"] for c in body) / 2**20
    step.late_polls = sum(late.values())
    step.problems += [f"{cam}: late at {k} polls" for cam, k in sorted(late.items())]
    for camera in body:
        delta = camera["segmenter_restarts"] - restarts0.get(camera["id"], 0)
        step.restarts += delta
        if delta:
            step.problems.append(f"{camera['id']}: {delta} segmenter restarts")
        check_window(step, camera["id"], sidecar_rows(shm / camera["id"]), start_ms, end_ms)
    dead = cameras.dead()
    if dead:
        step.problems.append(f"{len(dead)} publishers exited ({', '.join(dead[:5])})")


# -- driver ----------------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> list[Step]:
    """Run the steps in order, stopping after the first that fails (unless --keep-going)."""
    results: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-media-") as tmp:
        source = encode("static", Path(tmp) / "camera.flv", 30)
        for n in args.steps:
            step = run_step(n, source, args)
            results.append(step)
            verdict = "ok" if step.passed else "FAILED: " + "; ".join(step.problems[:4])
            print(
                f"streams_per_host: {n} cameras: {verdict} (machine CPU {step.machine_pct:.0f}%, "
                f"load {step.load1:.2f})",
                file=sys.stderr,
            )
            if not step.passed and not args.keep_going:
                break
    return results


def markdown(steps: list[Step], window_s: float) -> str:
    header = [
        "cameras",
        "result",
        "late polls / missing / gaps / restarts",
        "publish retries in ramp-up",
        "worst: newest-segment age / API answer",
        "machine busy: all users / this benchmark",
        "CPU % of one core: server / nginx / segmenters / publishers",
        "load (1 min)",
        "PSS MiB: server / nginx / segmenters",
        "buffer in /dev/shm (MiB)",
    ]
    rows = []
    ncpu = len(os.sched_getaffinity(0))
    for s in steps:
        c, m = s.cpu_pct, s.pss_mb
        row = [str(s.cameras), "ok" if s.passed else "**failed**"]
        if not s.measured:  # failed before the window: nothing was measured
            rows.append([*row, "-", str(s.publish_retries), *["-"] * (len(header) - 4)])
            continue
        groups = ("server", "relay", "segmenters", "publishers")
        row += [
            f"{s.late_polls} / {s.missing} / {s.seq_gaps + s.time_gaps + s.new_sessions}"
            f" / {s.restarts}",
            str(s.publish_retries),
            f"{s.worst_age_ms / 1000:.1f} s / {s.api_worst_ms / 1000:.2f} s",
            f"{s.machine_pct:.0f}% / {sum(c.values()) / ncpu:.0f}%",
            " / ".join(f"{c.get(k, 0):.0f}" for k in groups),
            f"{s.load1:.2f}",
            " / ".join(f"{m.get(k, 0):.0f}" for k in groups[:3]),
            f"{s.buffer_mb:.0f}",
        ]
        rows.append(row)
    passed = [s.cameras for s in steps if s.passed]
    best = max(passed) if passed else 0
    out = markdown_table(header, rows)
    out += f"\n\nLargest camera count with nothing late or missing in a {window_s:g}-s window: "
    out += f"**{best}**."
    for s in steps:
        if not s.passed:
            out += f"\n\nAt {s.cameras} cameras: " + "; ".join(s.problems[:6])
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", default="10,25,50,75,100,125,150,175,200", help="camera counts, in order"
    )
    parser.add_argument("--window", type=float, default=60.0, help="measurement window, s")
    parser.add_argument("--settle", type=float, default=5.0, help="after all first segments, s")
    parser.add_argument("--ramp", type=float, default=5.0, help="cameras started per second")
    parser.add_argument("--late-ms", type=int, default=2500, help="newest segment older = late")
    parser.add_argument("--keep-going", action="store_true", help="run steps after a failure")
    parser.add_argument("--log-dir", type=Path, help="keep a failed step's logs here")
    parser.add_argument("--quick", action="store_true", help="steps 5,10; 15-s window")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.window, args.settle = "5,10", 15.0, 3.0
    args.steps = [int(x) for x in str(args.steps).split(",") if x.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(markdown(measure(args), args.window))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
