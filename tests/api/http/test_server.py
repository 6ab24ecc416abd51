"""The HTTP front's bounds: the pure parts (the pool, the cap formula, the log filter), and
the real uvicorn from `build_server` on loopback with raw clients (silent, slow, floods)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from api.config import HttpSettings, Settings
from api.http.server import (
    MIN_CONNECTIONS,
    OncePerBurst,
    Pool,
    build_server,
    connection_cap,
    raise_descriptor_limit,
    reserved_descriptors,
)
from tests.certs import self_signed
from tests.conftest import eventually
from tests.stack.harness import free_port

# --- the pool ------------------------------------------------------------------------------


def test_pool_admits_within_the_caps() -> None:
    pool: Pool[str] = Pool(total=3, per_address=2)
    assert pool.admit("a1", "A") == []
    assert pool.admit("b1", "B") == []
    assert pool.admit("a2", "A") == []
    assert len(pool) == 3
    assert pool.from_address("A") == 2


def test_over_the_address_cap_the_oldest_never_used_connection_goes_first() -> None:
    pool: Pool[str] = Pool(total=100, per_address=3)
    for conn in ("a1", "a2", "a3"):
        pool.admit(conn, "A")
    pool.busy("a1")
    pool.idle("a1")  # used once: idle, but never-used ones go before it
    assert pool.admit("a4", "A") == ["a2"]
    assert pool.admit("a5", "A") == ["a3"]
    assert pool.from_address("A") == 3


def test_then_the_one_idle_longest() -> None:
    pool: Pool[str] = Pool(total=100, per_address=3)
    for conn in ("a1", "a2", "a3"):
        pool.admit(conn, "A")
        pool.busy(conn)
    pool.idle("a2")
    pool.idle("a1")  # idle since after a2
    assert pool.admit("a4", "A") == ["a2"]
    pool.busy("a4")
    assert pool.admit("a5", "A") == ["a1"]


def test_a_connection_with_a_request_in_flight_is_never_closed() -> None:
    pool: Pool[str] = Pool(total=100, per_address=2)
    for conn in ("a1", "a2"):
        pool.admit(conn, "A")
        pool.busy(conn)
    # Every other one is busy: the newcomer itself is refused.
    assert pool.admit("a3", "A") == ["a3"]
    assert pool.from_address("A") == 2


def test_the_total_cap_sheds_across_addresses_and_other_addresses_are_untouched() -> None:
    pool: Pool[str] = Pool(total=3, per_address=100)
    pool.admit("a1", "A")
    pool.admit("b1", "B")
    pool.busy("b1")
    pool.admit("c1", "C")
    assert pool.admit("c2", "C") == ["a1"]
    assert pool.from_address("A") == 0
    assert pool.from_address("B") == 1


def test_drop_is_idempotent_and_forgets_the_address() -> None:
    pool: Pool[str] = Pool(total=3, per_address=1)
    pool.admit("a1", "A")
    pool.drop("a1")
    pool.drop("a1")
    pool.idle("a1")  # a late callback for a closed connection changes nothing
    assert len(pool) == 0
    assert pool.admit("a2", "A") == []


# --- the cap formula and the descriptor limit ----------------------------------------------


def test_the_cap_keeps_descriptors_for_cameras_clips_backlog_and_the_rest() -> None:
    http = HttpSettings()
    reserve = reserved_descriptors(http, cameras=2, clip_slots=2)
    assert reserve == http.reserve_fds + 4 * http.backlog + 2 * 16 + 2 * 8 == 368
    assert connection_cap(1024, reserve, configured=0) == 1024 - reserve
    assert connection_cap(1024, reserve, configured=100) == 100
    # Never above the descriptor limit, whatever is configured.
    assert connection_cap(1024, reserve, configured=5000) == 1024 - reserve
    assert connection_cap(100, reserve, configured=0) == MIN_CONNECTIONS


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        limit = raise_descriptor_limit()
        now = resource.getrlimit(resource.RLIMIT_NOFILE)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert limit.before == lowered
    assert now[0] == limit.soft
    assert limit.soft == (hard if hard != resource.RLIM_INFINITY else 1 << 20)


# --- the log filter ------------------------------------------------------------------------


def _record(msg: str, level: int = logging.WARNING, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", level, __file__, 1, msg, args, None)


def test_a_repeated_warning_is_logged_once_per_burst_then_says_how_many_were_held() -> None:
    now = [0.0]
    burst = OncePerBurst(window_s=10, clock=lambda: now[0])
    passed = [
        burst.filter(_record("cap reached (%d open)", logging.WARNING, n)) for n in range(500)
    ]
    assert passed.count(True) == 1
    assert burst.filter(_record("another message")) is True  # counted per template
    now[0] = 10.5
    record = _record("cap reached (%d open)", logging.WARNING, 7)
    assert burst.filter(record) is True
    assert record.getMessage() == "cap reached (7 open) (499 more like this held back)"
    # Below WARNING nothing is held back, nor outside the levels asked.
    assert all(burst.filter(_record("debug", logging.DEBUG)) for _ in range(3))
    only_warnings = OncePerBurst(levels=(logging.WARNING, logging.WARNING), clock=lambda: 0.0)
    assert all(only_warnings.filter(_record("Exception in ASGI", logging.ERROR)) for _ in range(3))


# --- the real server -----------------------------------------------------------------------


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """`/hold` answers when the test sets `RELEASE`; anything else answers at once."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/hold":
        HELD.append(scope)
        await RELEASE.wait()
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


RELEASE = asyncio.Event()
HELD: list[Scope] = []
GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


@dataclass
class Front:
    port: int

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self, path: str = "/") -> bytes:
        reader, writer = await self.connect()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            async with asyncio.timeout(5):
                return await reader.readuntil(b"ok")
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def running(tls: tuple[Path, Path] | None = None, **http: Any) -> AsyncIterator[Front]:
    """The bounded server on loopback; `tls`: its certificate and key files."""
    global RELEASE  # noqa: PLW0603 (one event per server, made on its loop)
    RELEASE = asyncio.Event()
    HELD.clear()
    settings = Settings.model_validate(
        {
            "profile": "dev",
            "api_tokens": ["dev-token"],
            "relay_secret": "dev-relay-secret",
            "port": free_port(),
            "http": http,
        }
    )
    options: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        options["ssl_context_factory"] = lambda _config, _default: context
    server = build_server(_app, settings, options)
    task = asyncio.create_task(server.serve())
    try:
        await eventually("the server started", lambda: server.started, 10)
        yield Front(settings.port)
    finally:
        RELEASE.set()
        server.should_exit = True
        async with asyncio.timeout(10):
            await task


async def closed_by_server(reader: asyncio.StreamReader, within_s: float) -> bool:
    async with asyncio.timeout(within_s):
        return await reader.read() == b""


@pytest.mark.anyio
async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout() -> None:
    async with running(header_timeout_s=0.3) as front:
        reader, writer = await front.connect()
        opened = time.monotonic()
        assert await closed_by_server(reader, 5)
        assert time.monotonic() - opened >= 0.25  # not before its time
        writer.close()


@pytest.mark.anyio
async def test_a_tls_connection_that_never_says_hello_is_closed_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    # asyncio's own bound on a TLS handshake is 60 s, and the protocol (with the caps and the
    # header timeout) sees a connection only after it.
    files = tmp_path / "cert.pem", tmp_path / "key.pem"
    self_signed().write(*files)
    async with running(tls=files, header_timeout_s=1) as front:
        reader, writer = await front.connect()
        try:
            assert await closed_by_server(reader, within_s=5)
        finally:
            writer.close()


@pytest.mark.anyio
async def test_a_slow_loris_trickling_its_head_is_closed_after_the_header_timeout() -> None:
    async with running(header_timeout_s=0.5) as front:
        reader, writer = await front.connect()
        writer.write(b"GET / HTTP/1.1\r\n")

        async def trickle() -> None:
            for n in range(100):
                writer.write(b"X-%d: y\r\n" % n)
                await asyncio.sleep(0.05)  # the slow client's pace

        trickling = asyncio.create_task(trickle())
        try:
            assert await closed_by_server(reader, 3)
        finally:
            trickling.cancel()
            writer.close()


@pytest.mark.anyio
async def test_a_connection_is_kept_between_requests_and_a_next_head_gets_the_header_timeout() -> (
    None
):
    async with running(header_timeout_s=0.3, keep_alive_s=3) as front:
        reader, writer = await front.connect()
        writer.write(GET)
        async with asyncio.timeout(5):
            await reader.readuntil(b"ok")
        # Idle between requests longer than the header timeout: kept (keep-alive is 3 s).
        await asyncio.sleep(0.6)  # longer than header_timeout_s, shorter than keep_alive_s
        writer.write(GET)
        async with asyncio.timeout(5):
            await reader.readuntil(b"ok")
        # A next head that does not finish is closed after the header timeout.
        writer.write(b"GET / HTTP/1.1\r\n")
        assert await closed_by_server(reader, 2)
        writer.close()


@pytest.mark.anyio
async def test_a_head_over_max_head_bytes_is_refused() -> None:
    async with running(max_head_bytes=1024) as front:
        reader, writer = await front.connect()
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
        async with asyncio.timeout(5):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert answer.endswith(b"request head too large: at most 1024 bytes")
        writer.close()
        # A head just under the cap, sent byte by byte, is served.
        reader, writer = await front.connect()
        head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 980 + b"\r\n\r\n"
        assert len(head) <= 1024
        for byte in head:
            writer.write(bytes([byte]))
        async with asyncio.timeout(5):
            assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
        writer.close()


@pytest.mark.anyio
async def test_idle_connections_from_one_address_never_starve_a_new_request() -> None:
    async with running(max_connections_per_address=8) as front:
        flood = [await front.connect() for _ in range(40)]
        assert (await front.get()).endswith(b"ok")
        readers = [reader for reader, _ in flood]
        await eventually("at most 8 left open", lambda: sum(not r.at_eof() for r in readers) <= 8)
        # The newest ones are those kept: the oldest made room.
        assert all(r.at_eof() for r in readers[:30])
        for _, writer in flood:
            writer.close()


@pytest.mark.anyio
async def test_the_total_cap_sheds_idle_connections_too() -> None:
    async with running(max_connections=20, max_connections_per_address=1000) as front:
        flood = [await front.connect() for _ in range(60)]
        assert (await front.get()).endswith(b"ok")
        await eventually(
            "at most 20 left open", lambda: sum(not r.at_eof() for r, _ in flood) <= 20
        )
        for _, writer in flood:
            writer.close()


@pytest.mark.anyio
async def test_requests_in_flight_are_never_closed_and_a_newcomer_is_refused_instead() -> None:
    async with running(max_connections_per_address=4) as front:
        held = []
        for _ in range(4):
            reader, writer = await front.connect()
            writer.write(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
            held.append((reader, writer))
        await eventually("four requests held", lambda: len(HELD) == 4)
        newcomer, writer = await front.connect()
        assert await closed_by_server(newcomer, 5)
        writer.close()
        RELEASE.set()
        for reader, writer in held:
            async with asyncio.timeout(5):
                assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
            writer.close()
