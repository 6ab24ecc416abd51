"""The server under floods (issue 11): `/healthz` latency and segment continuity under 2,000
idle connections, 200 slow-loris clients and 50 clip requests at once, side by side with no
load, in one run.

    .venv/bin/python bench/flood.py [--healthz 200] [--nofile 1024]

The real stack on loopback: `doorbell serve` (its nginx-rtmp relay, a segmenter per camera)
started under `prlimit --nofile=N:N` (default 1024, systemd's default soft limit, as hard
too, so raising it cannot help), with two cameras publishing a pre-encoded 320x240 25 fps
H.264 stream in real time (ffmpeg, stream copy). The hostile clients run in child processes
(tests/stack/flood.py) so this process measures with its interpreter to itself:

- idle: 2,000 connections opened at once that never send a byte;
- churn: the same, each one the server closes opened again every second (an attacker in a
  loop);
- slow-loris: 200 connections sending a request line, then a header line every 0.5 s;
- clips: 50 requests for 50 different 10-s clips at once (2 assembly slots, 8 queue places:
  the rest 503).

In each phase `/healthz` is timed on a fresh connection each (sequentially, `--healthz` of
them, plain sockets: connect to the whole answer), and the two cameras' sidecar index is
checked for holes over the phase.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from _common import ffmpeg_bin, machine, markdown_table, wait_until

from tests.stack.flood import DescriptorPeak, flood_process, healthz_latencies
from tests.stack.harness import TOKEN, Server, now_ms, spawn, stop

KEYS = {"front": "front-stream-key-0123456789", "back": "back-stream-key-0123456789"}


@dataclass
class Phase:
    name: str
    median_ms: float
    p99_ms: float
    failures: int
    holes: int
    hole_ms: int
    restarts: int
    max_fds: int
    log_bytes: int
    note: str = ""


def encode(out: Path, seconds: int) -> Path:
    subprocess.run(
        [ffmpeg_bin(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "500k",
         "-f", "h264", str(out), "-y"],
        check=True, timeout=300,
    )  # fmt: skip
    return out


def holes(server: Server, since_ms: int, until_ms: int) -> tuple[int, int]:
    """Holes between consecutive segments ending in [since_ms, until_ms], both cameras:
    (count, total ms)."""
    count, total = 0, 0
    for camera in KEYS:
        rows = [r for r in server.sidecar(camera) if since_ms < r["end_ms"] <= until_ms + 2000]
        for a, b in itertools.pairwise(rows):
            if a["end_ms"] != b["start_ms"]:
                count += 1
                total += b["start_ms"] - a["end_ms"]
        if not rows or rows[-1]["end_ms"] < until_ms - 3000:
            count += 1  # stopped recording
            total += until_ms - (rows[-1]["end_ms"] if rows else since_ms)
    return count, total


def recording(server: Server, camera: str) -> Callable[[], bool]:
    return lambda: len(server.sidecar(camera)) >= 15


def restarts(server: Server) -> int:
    return sum(server.camera(c)["segmenter_restarts"] for c in KEYS)


@contextlib.contextmanager
def clip_requests(server: Server, count: int) -> Iterator[list[int]]:
    """`count` requests for different 10-s clips at once, each in its own thread; yields
    their statuses (filled as they answer) and waits for them at the end."""
    statuses: list[int] = []

    newest = server.camera("front")["buffer"]["end_ms"]

    def one(n: int) -> None:
        start = newest - 60_000 + n * 1000  # 50 different 10-s clips of the last minute
        try:
            response = httpx.get(
                f"{server.base}/api/v1/cameras/front/clip?start={start}&end={start + 10_000}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            statuses.append(response.status_code)
        except httpx.HTTPError:
            statuses.append(0)

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield statuses
    finally:
        for thread in threads:
            thread.join(90)


Load = Callable[[], contextlib.AbstractContextManager[Any]]


def measure(server: Server, name: str, healthz: int, load: Load) -> Phase:
    assert server.proc is not None
    log_before = server.log.stat().st_size
    restarts_before = restarts(server)
    began = now_ms()
    with DescriptorPeak(server.proc.pid) as fds, load() as loaded:
        time.sleep(3)  # let the load build up (a benchmark, not a test: a fixed ramp)
        latencies = healthz_latencies(server.base, healthz)
    ended = now_ms()
    note = ""
    if isinstance(loaded, list):  # the clip requests' answers, by status
        note = ", ".join(f"{n} x {s}" for s, n in sorted(_counts(loaded).items()))
    time.sleep(4)  # the segments of the phase's last seconds reach the index
    count, total = holes(server, began, ended)
    return Phase(
        name,
        statistics.median(latencies.seconds) * 1000,
        latencies.p99 * 1000,
        len(latencies.failures),
        count,
        total,
        restarts(server) - restarts_before,
        fds.peak,
        server.log.stat().st_size - log_before,
        note,
    )


def _counts(statuses: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for status in statuses:
        out[status] = out.get(status, 0) + 1
    return out


@contextlib.contextmanager
def nothing() -> Iterator[None]:
    yield None


@contextlib.contextmanager
def everything(server: Server, workdir: Path) -> Iterator[list[int]]:
    port = server.http_port
    with (
        flood_process("churn", port, 2000, 1.0, workdir),
        flood_process("slowloris", port, 200, 0.5, workdir),
        clip_requests(server, 50) as statuses,
    ):
        yield statuses


def run(healthz: int, nofile: int, workdir: Path) -> list[Phase]:
    media = encode(workdir / "cam.h264", 300)
    (workdir / "server").mkdir()
    server = Server(workdir / "server", KEYS, buffer_seconds=120, nofile=nofile)
    server.start()
    publishers = [
        spawn(
            [ffmpeg_bin(), "-nostdin", "-v", "error", "-re", "-f", "h264", "-framerate", "25",
             "-i", str(media), "-c", "copy", "-f", "flv", server.publish_url(camera)],
            workdir / f"publisher-{camera}.log",
        )
        for camera in KEYS
    ]  # fmt: skip
    try:
        for camera in KEYS:
            wait_until(f"{camera} recording", recording(server, camera), 60)
        port = server.http_port
        phases: list[tuple[str, Load]] = [
            ("no load", nothing),
            ("2,000 idle (opened once)", lambda: flood_process("idle", port, 2000, 1.0, workdir)),
            ("2,000 idle (reopened every 1 s)",
             lambda: flood_process("churn", port, 2000, 1.0, workdir)),
            ("200 slow-loris", lambda: flood_process("slowloris", port, 200, 0.5, workdir)),
            ("50 clip requests", lambda: clip_requests(server, 50)),
            ("all three at once", lambda: everything(server, workdir)),
            ("no load again", nothing),
        ]  # fmt: skip
        results = []
        for name, load in phases:
            print(f"phase: {name}", file=sys.stderr)
            results.append(measure(server, name, healthz, load))
            time.sleep(11)  # the previous phase's connections time out (header timeout 10 s)
        return results
    finally:
        for proc in publishers:
            stop(proc)
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthz", type=int, default=200, help="/healthz requests a phase")
    parser.add_argument("--nofile", type=int, default=1024, help="the server's RLIMIT_NOFILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
        phases = run(args.healthz, args.nofile, Path(tmp))
    print(markdown_table(["what", "value"], [[k, v] for k, v in machine().items()]))
    print()
    rows = [
        [p.name, f"{p.median_ms:.1f} ms", f"{p.p99_ms:.1f} ms", str(p.failures),
         f"{p.holes} ({p.hole_ms} ms)", str(p.restarts), str(p.max_fds),
         f"{p.log_bytes / 1024:.1f} KiB", p.note]
        for p in phases
    ]  # fmt: skip
    header = ["load", "/healthz median", "p99", "failed", "holes (both cameras)",
              "segmenter restarts", "server fds (peak)", "log", "clip answers"]  # fmt: skip
    print(markdown_table(header, rows))
    print(f"\nserver RLIMIT_NOFILE {args.nofile}; {args.healthz} /healthz per phase")
    return 0


if __name__ == "__main__":
    sys.exit(main())
