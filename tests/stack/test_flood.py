"""The server under floods (issue 11), real `doorbell serve` with two cameras publishing
through the real relay, under systemd's default descriptor limit (1024, soft and hard, so
raising it cannot help): 2,000 idle connections from one address cost no video and do not
starve /healthz; slow-loris clients are closed after the header timeout; a 40 MB body from
a stranger costs no memory.

One server is shared by the tests of this module, in order."""

from __future__ import annotations

import itertools
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_binary, wait_for
from tests.stack.flood import (
    DescriptorPeak,
    FloodProcess,
    flood_process,
    healthz_latencies,
    rss_bytes,
)
from tests.stack.harness import Server, now_ms, spawn, stop

pytestmark = pytest.mark.stack

KEYS = {"front": "front-stream-key-0123456789", "back": "back-stream-key-0123456789"}
NOFILE = 1024
HEADER_TIMEOUT_S = 10  # http.header_timeout_s's default


@pytest.fixture(scope="module")
def long_h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """180 s of 320x240 25 fps H.264, a keyframe every second: enough for the module."""
    out = tmp_path_factory.mktemp("flood-media") / "testsrc-180s.h264"
    subprocess.run(
        [require_binary("ffmpeg"), "-v", "error", "-f", "lavfi",
         "-i", "testsrc2=size=320x240:rate=25", "-t", "180", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
         "-pix_fmt", "yuv420p", "-b:v", "500k", "-f", "h264", str(out), "-y"],
        check=True, timeout=120,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, long_h264: Path) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("flood"),
        KEYS,
        buffer_seconds=120,
        nofile=NOFILE,
    )
    server.start()
    publishers = [_publisher(server, long_h264, camera) for camera in KEYS]
    try:
        for camera in KEYS:
            wait_for(f"{camera} recording", _segments_at_least(server, camera, 3), 30)
        yield server
    finally:
        for proc in publishers:
            stop(proc)
        server.stop()
        print(server.log_tail(60))


def _publisher(server: Server, h264: Path, camera: str) -> subprocess.Popen[bytes]:
    ffmpeg = require_binary("ffmpeg")
    return spawn(
        [ffmpeg, "-nostdin", "-v", "error", "-re", "-f", "h264", "-framerate", "25",
         "-i", str(h264), "-c", "copy", "-f", "flv", server.publish_url(camera)],
        server.root / f"publisher-{camera}.log",
    )  # fmt: skip


def _segments_at_least(server: Server, camera: str, count: int) -> Callable[[], bool]:
    return lambda: len(server.sidecar(camera)) >= count


def _recorded_since(server: Server, camera: str, since_ms: int) -> list[dict[str, Any]]:
    return [row for row in server.sidecar(camera) if row["end_ms"] > since_ms]


def _restarts(server: Server) -> dict[str, int]:
    return {camera: server.camera(camera)["segmenter_restarts"] for camera in KEYS}


def _assert_unbroken(
    server: Server, since_ms: int, until_ms: int, restarts: dict[str, int]
) -> None:
    """Both cameras recorded from `since_ms` to `until_ms` with no gap and no segmenter
    restart beyond `restarts` (counted before)."""
    for camera in KEYS:
        rows = _recorded_since(server, camera, since_ms)
        assert rows, f"{camera}: nothing recorded since the flood began"
        assert rows[0]["start_ms"] <= since_ms + 1500, (camera, rows[0])
        assert rows[-1]["end_ms"] >= until_ms - 3000, (camera, rows[-1], until_ms)
        holes = [(a["end_ms"], b["start_ms"]) for a, b in itertools.pairwise(rows)
                 if a["end_ms"] != b["start_ms"]]  # fmt: skip
        assert holes == [], f"{camera}: gaps in the recording {holes}"
        body = server.camera(camera)
        assert body["segmenter_restarts"] == restarts[camera], body
        assert body["gaps"] == [], body


def _shedding(flood: FloodProcess) -> Callable[[], bool]:
    """Whether the server has closed half of the flood's 2,000 connections (the old server
    closed none)."""
    return lambda: bool(flood.status()["closed_by_server"] >= 1000)


def _log_size(server: Server) -> int:
    return server.log.stat().st_size


def test_2000_idle_connections_from_one_address_cost_no_video_and_do_not_starve_healthz(
    server: Server,
) -> None:
    assert server.proc is not None
    log_before = _log_size(server)
    restarts = _restarts(server)
    began = now_ms()
    with (
        # 2,000 idle connections, each one the server closes opened again every second.
        flood_process("churn", server.http_port, 2000, 1.0, server.root) as flood,
        DescriptorPeak(server.proc.pid) as descriptors,
    ):
        wait_for("the flood shed by the server", _shedding(flood), 20)
        latencies = healthz_latencies(server.base, 200)
        ended = now_ms()
        status = flood.status()
        opened, shed = status["opened"], status["closed_by_server"]
    wait_for("segments past the flood", lambda: all(
        _recorded_since(server, c, ended + 1000) for c in KEYS), 15)  # fmt: skip
    log = server.log.read_text(errors="replace")[log_before:]
    print(
        f"/healthz under 2,000 idle connections: median {latencies.median * 1000:.1f} ms, "
        f"p99 {latencies.p99 * 1000:.1f} ms over {len(latencies.seconds)}; flood opened "
        f"{opened}, server closed {shed}; server descriptors at most {descriptors.peak}; log "
        f"+{len(log)} bytes"
    )
    # It held its per-address cap (256) of them, and stayed below the descriptor limit.
    assert 256 < descriptors.peak < NOFILE
    assert latencies.failures == []
    # The bound is 100 ms (a benchmark figure, docs/benchmarks.md); generous here.
    assert latencies.p99 <= 1.0
    assert "Too many open files" not in log
    assert "out of system resource" not in log
    assert len(log) < 64 * 1024, log[-2000:]
    assert server.proc.poll() is None
    _assert_unbroken(server, began, ended, restarts)


def test_at_the_total_cap_accept_and_the_segmenters_stay_clear_of_the_descriptor_limit(
    tmp_path: Path,
) -> None:
    """The total cap (not the per-address one) is what the flood meets here: what the cap
    does not see (connections accepted but not yet admitted, and closed but not yet
    released) must fit in the reserve, or accept() and the segmenters meet EMFILE."""
    many = {"max_connections_per_address": 100_000}
    server = Server(tmp_path, KEYS, nofile=NOFILE, extra={"http": many})
    server.start()
    assert server.proc is not None
    try:
        with (
            flood_process("churn", server.http_port, 2000, 1.0, tmp_path) as flood,
            DescriptorPeak(server.proc.pid) as descriptors,
        ):
            wait_for("the flood shed by the server", _shedding(flood), 20)
            latencies = healthz_latencies(server.base, 100)
            shed = flood.status()["closed_by_server"]
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    print(f"total cap: server closed {shed}, descriptors at most {descriptors.peak} of {NOFILE}")
    assert "HTTP connections capped at 656, 656 per address" in log
    assert 656 < descriptors.peak < NOFILE
    assert "Too many open files" not in log
    assert "out of system resource" not in log
    assert latencies.failures == []


def test_slow_loris_clients_are_closed_after_the_header_timeout(server: Server) -> None:
    # From an address of their own: the other floods' stragglers (handshakes the kernel held
    # back, admitted seconds later) would otherwise make room by closing these first.
    slow = "127.0.0.2"
    with flood_process("slowloris", server.http_port, 200, 0.5, server.root, slow) as loris:
        wait_for("200 slow clients closed", lambda: loris.status()["closed_by_server"] >= 200,
                 HEADER_TIMEOUT_S + 10)  # fmt: skip
        latencies = healthz_latencies(server.base, 20)
        closed_after = sorted(loris.status()["closed_after"])
    print(
        f"slow-loris: 200 closed after {closed_after[0]:.2f}..{closed_after[-1]:.2f} s "
        f"(header timeout {HEADER_TIMEOUT_S} s); /healthz meanwhile p99 "
        f"{latencies.p99 * 1000:.1f} ms"
    )
    assert len(closed_after) == 200
    assert closed_after[0] >= HEADER_TIMEOUT_S - 0.5  # not before their time
    assert latencies.failures == []


def test_a_40_mb_body_from_a_stranger_costs_no_memory(server: Server) -> None:
    assert server.proc is not None
    size = 40 * 1024 * 1024
    before = rss_bytes(server.proc.pid)
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % size
        )
        # An answer before the body (read first: once the server closes on a body it did
        # not read, the kernel resets the connection and may drop what it had sent).
        sock.settimeout(2)
        answer = _read_answer(sock)  # empty: the old server waited for the body
        sent = _send_body(sock, size)
        if not answer:
            sock.settimeout(30)
            answer = _read_answer(sock)
    after = rss_bytes(server.proc.pid)
    print(f"40 MB body: sent {sent} bytes before the close; RSS {before} -> {after}")
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"at most 65536 bytes" in answer
    assert after - before < 8 * 1024 * 1024


def _read_answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes (or the socket's timeout passes)."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def _send_body(sock: socket.socket, size: int) -> int:
    """Send up to `size` bytes; how many went before the server closed (or 30 s passed)."""
    sent = 0
    chunk = b"a" * (1024 * 1024)
    deadline = time.monotonic() + 30
    sock.settimeout(5)
    try:
        while sent < size and time.monotonic() < deadline:
            sent += sock.send(chunk)
    except OSError:
        pass  # the server answered and closed: the rest is not read
    return sent
