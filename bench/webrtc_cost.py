"""The server's cost of live viewers: CPU and memory of its processes over one window, read
from /proc, with the load generator's and the machine's share beside them."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import CpuMeter, MachineCpu, descendants, memory_kib, pss_bytes

from tests.stack.harness import Server


@dataclass(frozen=True)
class Scenario:
    name: str
    viewers: dict[str, int]  # camera -> WebRTC viewers

    @property
    def total(self) -> int:
        return sum(self.viewers.values())


@dataclass
class Window:
    """One scenario's window: CPU in % of one core, memory in KiB, frame rates per viewer."""

    scenario: str
    viewers: int
    cameras: int
    seconds: float
    worker_cpu: float
    api_cpu: float
    relay_cpu: float  # nginx-rtmp and the segmenters (the server's other children)
    publishers_cpu: float  # the two pixel-clock cameras
    browser_cpu: float  # Chromium and Playwright's driver
    machine_busy: float  # % of the whole machine (all cores), everyone's
    worker_rss_kib: int
    worker_pss_kib: int
    api_rss_kib: int
    api_pss_kib: int
    min_received_fps: float | None  # frames per second the least served viewer received
    median_decoded_fps: float | None  # frames per second a viewer decoded (Chromium's share)
    udp_drops: int | None = None  # datagrams the kernel dropped at full UDP receive buffers


def worker_pid(server: Server) -> int:
    """The media worker's pid, as /healthz reports it."""
    state = server.health().get("webrtc", {})
    pid = state.get("pid")
    if not isinstance(pid, int):
        raise SystemExit(f"bench: /healthz reports no media worker pid: {state}")
    return pid


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def groups(server_pid: int, worker: int) -> dict[str, list[int]]:
    """Our processes by role: the server's (API, worker, the rest) and the load generator's."""
    server_tree = set(descendants(server_pid)) | {server_pid}
    worker_tree = set(descendants(worker)) | {worker}
    ours = set(descendants(os.getpid())) - server_tree
    publishers = {pid for pid in ours if "pixelclock.py" in _cmdline(pid)}
    return {
        "worker": sorted(worker_tree),
        "api": [server_pid],
        "relay": sorted(server_tree - worker_tree - {server_pid}),
        "publishers": sorted(publishers),
        "browser": sorted(ours - publishers),
    }


def udp_drops() -> int:
    """Datagrams the kernel dropped at open UDP sockets (a full receive buffer: the reader,
    a browser or the worker, fell behind), summed over this network namespace's sockets."""
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
                total += int(line.split()[-1])
    return total


def _kib(pid: int) -> tuple[int, int]:
    return memory_kib(pid).get("VmRSS", 0), pss_bytes(pid) // 1024


def measure_window(
    scenario: Scenario,
    server: Server,
    worker: int,
    seconds: float,
    frames: Callable[[], list[tuple[int, int]]],
) -> Window:
    """CPU of each group over `seconds` of steady state, memory at its end."""
    assert server.proc is not None
    pids = groups(server.proc.pid, worker)
    meters = {name: CpuMeter() for name in pids}
    for name, meter in meters.items():
        meter.start(pids[name])
    machine, frames0, drops0, t0 = MachineCpu.now(), frames(), udp_drops(), time.monotonic()
    time.sleep(seconds)  # the measurement window itself
    for name, meter in meters.items():
        meter.sample(pids[name])
    frames1, drops, elapsed = frames(), udp_drops() - drops0, time.monotonic() - t0
    busy = MachineCpu.now().percent_since(machine)
    cpu = {name: 100.0 * meter.seconds / elapsed for name, meter in meters.items()}
    received = [(b[0] - a[0]) / elapsed for a, b in zip(frames0, frames1, strict=True)]
    decoded = [(b[1] - a[1]) / elapsed for a, b in zip(frames0, frames1, strict=True)]
    worker_rss, worker_pss = _kib(worker)
    api_rss, api_pss = _kib(server.proc.pid)
    return Window(
        scenario=scenario.name,
        viewers=scenario.total,
        cameras=len(scenario.viewers),
        seconds=elapsed,
        worker_cpu=cpu["worker"],
        api_cpu=cpu["api"],
        relay_cpu=cpu["relay"],
        publishers_cpu=cpu["publishers"],
        browser_cpu=cpu["browser"],
        machine_busy=busy,
        worker_rss_kib=worker_rss,
        worker_pss_kib=worker_pss,
        api_rss_kib=api_rss,
        api_pss_kib=api_pss,
        min_received_fps=min(received) if received else None,
        median_decoded_fps=statistics.median(decoded) if decoded else None,
        udp_drops=drops,
    )
