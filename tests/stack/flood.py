"""Hostile clients for the flood tests and bench/flood.py: idle connections, slow-loris
heads, and /healthz timed on fresh connections.

A flood runs in its own process (`python -m tests.stack.flood idle|slowloris ...`, started by
`flood_process`), so the measuring process keeps its interpreter to itself; it writes what it
saw (opened, closed by the server, after how long) to a JSON status file each round, and is
stopped by its handle (terminate, bounded wait, kill)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

BATCH = 100  # connections opened at once, below the server's listen backlog (128)
BATCH_PAUSE_S = 0.02


def _connect(port: int, source: str) -> socket.socket:
    """A non-blocking connection from `source` (a loopback address) under way."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    code = sock.connect_ex(("127.0.0.1", port))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(code, f"connect to 127.0.0.1:{port}: {errno.errorcode.get(code, code)}")
    return sock


@dataclass
class _Clients:
    """Connections watched for the server closing them (EOF or reset)."""

    port: int
    count: int
    every_s: float
    source: str = "127.0.0.1"
    closed_by_server: int = 0
    opened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            assert not self._thread.is_alive(), f"{type(self).__name__} did not stop"
        for key in list(self._selector.get_map().values()):
            self._drop(key.fileobj)  # type: ignore[arg-type]
        self._selector.close()

    @property
    def open(self) -> int:
        return len(self._selector.get_map())

    def _open(self) -> None:
        sock = _connect(self.port, self.source)
        self._selector.register(sock, selectors.EVENT_READ)
        self.opened += 1
        self.opened_one(sock)

    def opened_one(self, sock: socket.socket) -> None:
        """Hook: a connection was opened."""

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()

    def _reap(self, timeout_s: float) -> None:
        for key, _ in self._selector.select(timeout_s):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.closed_by_server += 1
                self._drop(sock)

    def _run(self) -> None:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        return {"opened": self.opened, "closed_by_server": self.closed_by_server, "open": self.open}


class IdleFlood(_Clients):
    """`count` connections that never send a byte, opened BATCH at a time (5,000 a second at
    most); with `reopen`, every one the server closes is opened again each `every_s` (an
    attacker in a loop)."""

    def __init__(
        self, port: int, count: int, every_s: float = 1.0, reopen: bool = True, source: str = ""
    ) -> None:
        super().__init__(port, count, every_s, source or "127.0.0.1")
        self.reopen = reopen

    def _run(self) -> None:
        self._fill()
        while not self._stop.is_set():
            deadline = time.monotonic() + self.every_s
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._reap(0.05)
            if self.reopen:
                self._fill()

    def _fill(self) -> None:
        """Open as many as are missing now (those closed meanwhile wait for the next round)."""
        for _ in range(self.count - self.open):
            if self._stop.is_set():
                return
            try:
                self._open()
            except OSError:
                return  # out of ports or descriptors here: try again next round
            if self.opened % BATCH == 0:
                # Paced so the server's accept queue (its listen backlog) takes them all:
                # past it the kernel holds handshakes back for seconds, and the flood would
                # reach the server as a trickle.
                self._reap(BATCH_PAUSE_S)


class SlowLoris(_Clients):
    """`count` connections that send a request line, then one header line each `every_s`
    and never the end of the head. `closed_after` holds, for each one the server closed,
    the seconds it had been open."""

    def __init__(self, port: int, count: int, every_s: float = 0.5, source: str = "") -> None:
        super().__init__(port, count, every_s, source or "127.0.0.1")
        self.closed_after: list[float] = []
        self._opened_at: dict[int, float] = {}
        self._sent: dict[int, int] = {}  # lines sent, by descriptor

    def opened_one(self, sock: socket.socket) -> None:
        self._opened_at[sock.fileno()] = time.monotonic()

    def _drop(self, sock: socket.socket) -> None:
        self._sent.pop(sock.fileno(), None)
        opened = self._opened_at.pop(sock.fileno(), None)
        if opened is not None and not self._stop.is_set():
            self.closed_after.append(time.monotonic() - opened)
        super()._drop(sock)

    def _run(self) -> None:
        for _ in range(self.count):
            self._open()
        while not self._stop.is_set() and self.open:
            self._send_next_lines()
            deadline = time.monotonic() + self.every_s
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._reap(0.05)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "closed_after": self.closed_after}

    def _send_next_lines(self) -> None:
        """Each connection's next line: the request line first, then one header each."""
        for key in list(self._selector.get_map().values()):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            sent = self._sent.get(sock.fileno(), 0)
            line = b"X-%d: y\r\n" % sent if sent else b"GET /healthz HTTP/1.1\r\n"
            try:
                sock.send(line)
            except OSError:  # not connected yet (or closed: reaped next)
                continue
            self._sent[sock.fileno()] = sent + 1


Clients = TypeVar("Clients", bound=_Clients)


@contextlib.contextmanager
def running(clients: Clients) -> Iterator[Clients]:
    clients.start()
    try:
        yield clients
    finally:
        clients.stop()


@dataclass(frozen=True)
class Latencies:
    """`/healthz` timed on a fresh connection each; a failure counts as `timeout_s`."""

    seconds: list[float]
    failures: list[str]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)


def healthz_latencies(base: str, count: int, timeout_s: float = 5.0) -> Latencies:
    """`/healthz` `count` times, each on a new connection (a newcomer must not be starved by
    idle ones), timed from connect to the whole answer. Plain sockets: no client library's
    own start-up in the figure."""
    address = urlsplit(base)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    seconds: list[float] = []
    failures: list[str] = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            answer = _exchange(host, port, request, timeout_s)
            if not answer.startswith(b"HTTP/1.1 200 "):
                failures.append(repr(answer[:40]))
            seconds.append(time.perf_counter() - started)
        except OSError as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            seconds.append(timeout_s)
    return Latencies(seconds, failures)


def _exchange(host: str, port: int, request: bytes, timeout_s: float) -> bytes:
    """Send `request` on a new connection; everything answered until the server closes."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


class DescriptorPeak:
    """The most descriptors process `pid` had open, sampled every 0.1 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fds", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, open_descriptors(self.pid))

    def __enter__(self) -> DescriptorPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


def open_descriptors(pid: int) -> int:
    """How many descriptors process `pid` has open now."""
    with contextlib.suppress(FileNotFoundError):
        return sum(1 for _ in os.scandir(f"/proc/{pid}/fd"))
    return 0


def rss_bytes(pid: int) -> int:
    """The resident set of process `pid` (VmRSS)."""
    with Path(f"/proc/{pid}/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class FloodProcess:
    """A flood in a child process; `status()` is what it last reported."""

    proc: subprocess.Popen[bytes]
    status_file: Path

    def status(self) -> dict[str, Any]:
        try:
            body: dict[str, Any] = json.loads(self.status_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"opened": 0, "closed_by_server": 0, "open": 0, "closed_after": []}
        return body


@contextlib.contextmanager
def flood_process(
    kind: str, port: int, count: int, every_s: float, workdir: Path, source: str = "127.0.0.1"
) -> Iterator[FloodProcess]:
    """`kind` clients in a child process, stopped on exit: idle (opened once, never a byte),
    churn (idle, and each one the server closes opened again every `every_s`) or slowloris."""
    status = workdir / f"flood-{kind}-{port}.json"
    status.unlink(missing_ok=True)
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "tests.stack.flood", kind, "--port", str(port),
            "--count", str(count), "--every", str(every_s), "--status", str(status),
            "--source", source]  # fmt: skip
    with (workdir / f"flood-{kind}.log").open("ab") as log:
        proc = subprocess.Popen(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield FloodProcess(proc, status)
    finally:
        from tests.stack.harness import stop  # here: the flood clients run without it

        stop(proc)


def _raise_own_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["idle", "churn", "slowloris"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--source", default="127.0.0.1", help="a loopback address to come from")
    parser.add_argument("--status", type=Path, required=True)
    args = parser.parse_args(argv)
    _raise_own_limit()
    clients: _Clients = (
        IdleFlood(args.port, args.count, args.every, args.kind == "churn", args.source)
        if args.kind in {"idle", "churn"}
        else SlowLoris(args.port, args.count, args.every, args.source)
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with running(clients):
        while not stopping.wait(0.2):
            temporary = args.status.with_suffix(".tmp")
            temporary.write_text(json.dumps(clients.status()))
            temporary.replace(args.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
