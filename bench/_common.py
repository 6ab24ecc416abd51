"""Shared benchmark helpers: media, a private nginx-rtmp, process stopping and /proc accounting.

The benchmark drivers are plain synchronous scripts (no event loop to keep responsive), so
they use `subprocess.Popen` with argv lists; every child is stopped by its handle
(terminate, bounded wait, kill, reap) and every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# 640x480, 25 fps, keyframe every second, ~1.5 Mbit/s: what the Pi's hardware encoder sends.
X264_ARGS = [
    "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1500k", "-maxrate", "1500k",
    "-bufsize", "3000k", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
    "-pix_fmt", "yuv420p", "-an",
]  # fmt: skip
SOURCES = {
    "static": ["-f", "lavfi", "-i", "testsrc2=s=640x480:r=25"],
    # Temporal noise: every frame differs everywhere, the worst case for a re-encoder.
    "noise": ["-f", "lavfi", "-i", "color=c=gray:s=640x480:r=25", "-vf", "noise=alls=100:allf=t+u"],
}


def ffmpeg_bin() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise SystemExit("ffmpeg is not installed: run scripts/bootstrap.sh --dev")
    return path


def encode(kind: str, out: Path, seconds: float) -> Path:
    """Encode `seconds` of the `kind` test source to FLV, faster than real time."""
    argv = [ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    argv += [*SOURCES[kind], "-t", f"{seconds:g}", *X264_ARGS, "-f", "flv", str(out)]
    subprocess.run(argv, check=True, timeout=300, stdin=subprocess.DEVNULL)
    return out


def publisher_argv(source: Path, url: str, loop: bool = False) -> list[str]:
    """A simulated camera: the pre-encoded file sent in real time, stream copy."""
    argv = [ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error", "-re"]
    if loop:
        argv += ["-stream_loop", "-1"]
    return [*argv, "-i", str(source), "-c", "copy", "-f", "flv", url]


def free_port() -> int:
    """A TCP port free on loopback right now (the usual small race is acceptable here)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(
    what: str, probe: Callable[[], bool], timeout_s: float, every_s: float = 0.1
) -> None:
    """Poll `probe` until true; TimeoutError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop(procs: Iterable[subprocess.Popen[bytes]], timeout_s: float = 5.0) -> None:
    """Terminate every process, wait for all up to `timeout_s`, kill the rest; always reap."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout_s)


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, joined, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def private_relay(timeout_s: float = 10.0) -> Iterator[int]:
    """A throwaway nginx-rtmp on a free loopback port (temp prefix, no auth); yields the port."""
    if not RTMP_MODULE.exists():
        raise SystemExit(f"{RTMP_MODULE} missing: apt-get install libnginx-mod-rtmp")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-relay-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "logs").mkdir()  # nginx opens logs/error.log before reading the config
        port = free_port()
        conf = run_dir / "nginx.conf"
        conf.write_text(
            f"""load_module {RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
pid {run_dir / "nginx.pid"};
error_log stderr warn;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{ live on; record off; }}
    }}
}}
""",
            encoding="utf-8",
        )
        log = run_dir / "nginx.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [nginx, "-p", str(run_dir), "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            wait_until(
                f"nginx-rtmp on port {port}",
                lambda: proc.poll() is not None or port_open(port),
                timeout_s,
            )
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {proc.returncode}: {tail(log)}")
            yield port
        finally:
            stop([proc])


# -- /proc accounting ------------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the whole process (all threads), in seconds; None once it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state(0) ppid(1) ... utime(11) stime(12), i.e. stat fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the pid, its identity."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def descendants(root: int) -> list[int]:
    """Every live descendant of `root` (children, grandchildren...), from /proc."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parent[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        found += kids
        frontier += kids
    return found


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of `pid`, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            out[key] = int(value.split()[0])
    return out


def pss_bytes(pid: int) -> int:
    """Proportional set size (shared pages split among sharers), so sums do not double count."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


class CpuMeter:
    """CPU seconds used by a changing set of processes between `start()` and the last `sample()`.

    Processes first seen after `start()` count from zero (they were born in the window); one
    that exits between samples loses at most one sampling interval of CPU.
    """

    def __init__(self) -> None:
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._started = False

    def start(self, pids: Iterable[int]) -> None:
        self._first, self._last, self._started = {}, {}, False
        self.sample(pids)
        self._started = True

    def sample(self, pids: Iterable[int]) -> None:
        for pid in pids:
            used = cpu_seconds(pid)
            if used is None:
                continue
            if pid not in self._first:
                self._first[pid] = used if not self._started else 0.0
            self._last[pid] = used

    @property
    def seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last)


@dataclass(frozen=True, slots=True)
class MachineCpu:
    busy: int
    total: int

    @classmethod
    def now(cls) -> MachineCpu:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        total = sum(fields[:8])  # guest time is already inside user/nice
        return cls(total - idle, total)

    def percent_since(self, earlier: MachineCpu) -> float:
        """Busy share of all cores since `earlier`, in % of the whole machine."""
        total = self.total - earlier.total
        return 100.0 * (self.busy - earlier.busy) / total if total else 0.0


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    version = subprocess.run(
        [ffmpeg_bin(), "-version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.splitlines()[0]
    os_name = "?"
    with contextlib.suppress(FileNotFoundError):
        release = Path("/etc/os-release").read_text()
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)', release, re.MULTILINE)
        os_name = pretty.group(1) if pretty else "?"
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu model": model.group(1).strip() if model else "?",
        "ram": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?",
        "os": f"{os_name}, kernel {platform.release()}",
        "ffmpeg": " ".join(version.split()[:3]),
        "loadavg at start": Path("/proc/loadavg").read_text().split(" ", 3)[0],
    }


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
