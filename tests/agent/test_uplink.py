"""The uplink against a real HTTP receiver on loopback: order, retries, refusals, clock offset.

The receiver is a few lines of asyncio HTTP/1.1 (request line, headers, Content-Length body,
keep-alive) that records every request and answers from a script, then 200 with the server
time. Until the server's endpoint exists it stands in for `POST /api/v1/agent/events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.clock import ClockOffset, OffsetSample, offset_sample, server_time
from agent.events import Event, Kind
from agent.outbox import AsyncOutbox
from agent.uplink import TIME_PATH, Uplink, classify
from tests.contract.test_event_schema import schema_errors

pytestmark = pytest.mark.anyio

TOKEN = "device-token-123"
HANGUP = -1  # a scripted "status" that reads the request and closes without answering


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A tiny HTTP server on 127.0.0.1 standing in for the API's agent-events endpoint."""

    def __init__(self, port: int = 0, shift_ms: int = 0) -> None:
        self.port = port
        self.shift_ms = shift_ms  # the server clock runs this far ahead of ours
        self.requests: list[Request] = []
        # `GET /api/v1/agent/time`, answered at once and apart from the script: how many
        # event requests had arrived before each.
        self.time_asked: list[int] = []
        self.script: list[tuple[int, dict[str, str], bytes]] = []  # answered first, in order
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def wait_requests(self, n: int, timeout_s: float = 10.0) -> list[Request]:
        try:
            async with asyncio.timeout(timeout_s):
                while len(self.requests) < n:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            pytest.fail(f"{len(self.requests)} requests after {timeout_s} s, expected {n}")
        return self.requests

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, value = header.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                extra: dict[str, str]
                if (method, path) == ("GET", TIME_PATH):
                    assert headers["authorization"] == f"Bearer {TOKEN}"
                    self.time_asked.append(len(self.requests))
                    status, extra, reply = 200, {}, b""
                else:
                    self.requests.append(Request(method, path, headers, body))
                    self._arrived.set()
                    status, extra, reply = self.script.pop(0) if self.script else (200, {}, b"")
                if status == HANGUP:
                    break
                if not reply:
                    now_ms = time.time_ns() // 1_000_000 + self.shift_ms
                    reply = json.dumps({"server_time_ms": now_ms}).encode()
                head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
                head += [f"{k}: {v}" for k, v in {**_json_headers(len(reply)), **extra}.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _json_headers(length: int) -> dict[str, str]:
    return {"Content-Type": "application/json", "Content-Length": str(length)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def receiver_running(**kwargs: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**kwargs)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.aclose()


class CountingTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, counting the requests it is asked to send (refused ones too)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await super().handle_async_request(request)


@contextlib.asynccontextmanager
async def uplink_running(
    path: Path, api_url: str, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Uplink]:
    outbox = await AsyncOutbox.open(path, max_events=1000)
    try:
        async with httpx.AsyncClient(trust_env=False, transport=transport) as client:
            uplink = Uplink(outbox, api_url, TOKEN, client, backoff_base_s=0.02, backoff_max_s=0.2)
            uplink.start()
            try:
                yield uplink
            finally:
                await uplink.aclose()
    finally:
        await outbox.aclose()


async def eventually(what: str, probe: Callable[[], Awaitable[bool]], timeout_s: float = 5) -> None:
    """A bounded wait: poll `probe` until true, fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)  # polling interval of a bounded wait


def events(n: int, kinds: tuple[Kind, ...] = ("ring", "motion_start", "motion_end")) -> list[Event]:
    base = 1_790_000_000_000
    return [Event.new("front-door", kinds[i % len(kinds)], base + i * 10) for i in range(n)]


# -- pure decisions -------------------------------------------------------------------------


def test_classify_keeps_the_queue_moving_only_for_real_refusals() -> None:
    assert [classify(s) for s in (200, 201, 202, 204)] == ["sent"] * 4
    assert [classify(s) for s in (400, 409, 413, 422)] == ["refused"] * 4
    # The event is fine, the server or deployment is not: keep it and retry.
    assert [classify(s) for s in (401, 403, 404, 408, 425, 429)] == ["retry"] * 6
    assert [classify(s) for s in (500, 502, 503, 504, 301, 302)] == ["retry"] * 6


def test_offset_sample_uses_the_midpoint_of_the_round_trip() -> None:
    # Sent at 1000 on our clock, answered 40 ms later; the server said 6020 (its ms clock).
    sample = offset_sample(1000, 40.0, 6020.0, 1.0)
    assert sample.offset_ms == pytest.approx(5000.5)
    assert sample.uncertainty_ms == pytest.approx(20.5)


def test_clock_offset_prefers_the_tightest_sample_and_forgets_a_stepped_clock() -> None:
    offset = ClockOffset(window=4, step_ms=2000)
    empty = offset.estimate_ms
    assert empty is None
    offset.add(OffsetSample(5400, 500))  # from a Date header
    offset.add(OffsetSample(5010, 30))
    offset.add(OffsetSample(4990, 3))
    offset.add(OffsetSample(5050, 60))
    assert offset.estimate_ms == 4990
    offset.add(OffsetSample(-3_600_000, 80))  # NTP stepped our clock by an hour
    assert offset.estimate_ms == -3_600_000
    for _ in range(4):
        offset.add(OffsetSample(0, 1))  # the tight sample ages out of the window
    assert offset.estimate_ms == 0


def test_server_time_from_the_body_else_the_date_header() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    with_body = httpx.Response(200, json={"server_time_ms": 123_456}, headers={"Date": date})
    assert server_time(with_body) == (123_456.0, 1.0)
    only_date = httpx.Response(503, text="busy", headers={"Date": date})
    assert server_time(only_date) == (1_792_567_680_000.0, 1000.0)
    assert server_time(httpx.Response(200, json={"ok": True})) is None
    assert server_time(httpx.Response(200, content=b"{not json", headers=_json_headers(9))) is None


@pytest.mark.parametrize(
    "value", [b"NaN", b"Infinity", b"-Infinity", b"true", pytest.param(b"1" * 400, id="huge")]
)
def test_a_server_time_that_is_not_a_finite_number_is_ignored(value: bytes) -> None:
    # json.loads takes NaN and Infinity; rounded into the offset estimate they would raise.
    body = b'{"server_time_ms": ' + value + b"}"
    response = httpx.Response(200, content=body, headers=_json_headers(len(body)))
    assert server_time(response) is None


# -- against the receiver -------------------------------------------------------------------


async def test_delivers_events_in_order_with_token_and_schema_valid_bodies(
    tmp_path: Path,
) -> None:
    sent = events(12)
    async with (
        receiver_running() as receiver,
        uplink_running(tmp_path / "outbox.db", receiver.url + "/") as uplink,
    ):
        for event in sent:
            assert await uplink.submit(event)
        requests = await receiver.wait_requests(len(sent))
        await eventually("outbox drained", lambda: _pending_is(uplink, 0))
        status = await uplink.status()
    assert [r.json()["id"] for r in requests] == [e.id for e in sent]
    for request, event in zip(requests, sent, strict=True):
        assert (request.method, request.path) == ("POST", "/api/v1/agent/events")
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["content-type"] == "application/json"
        assert schema_errors(request.json()) == []
        body = request.json()
        body.pop("clock_offset_ms", None)
        assert body == event.to_payload(None)
    assert (status.sent, status.refused, status.dropped, status.pending) == (12, 0, 0, 0)
    assert status.last_error is None
    assert status.last_success_ms is not None


async def test_with_the_api_down_all_events_arrive_afterwards_in_order_none_twice(
    tmp_path: Path,
) -> None:
    port = free_port()
    sent = events(20)
    attempts = CountingTransport()
    api_url = f"http://127.0.0.1:{port}"
    async with uplink_running(tmp_path / "outbox.db", api_url, attempts) as uplink:
        for event in sent[:10]:
            await uplink.submit(event)

        async def tried_three_times() -> bool:
            return attempts.requests >= 3

        # The API stays down over several attempts (backing off) while more events happen.
        await eventually("3 failed attempts", tried_three_times)
        assert await _error_contains(uplink, "ConnectError")
        for event in sent[10:]:
            await uplink.submit(event)
        assert (await uplink.status()).pending == 20
        async with receiver_running(port=port) as receiver:
            requests = await receiver.wait_requests(20)
            await eventually("outbox drained", lambda: _pending_is(uplink, 0))
            # Final: one request at a time, and an event leaves the outbox only after its
            # answer, so with none pending every request the uplink made has arrived.
            assert [r.json()["id"] for r in receiver.requests] == [e.id for e in sent]
        assert len(requests) == 20
        assert (await uplink.status()).sent == 20


async def test_events_stored_before_a_restart_are_sent_by_the_next_run(tmp_path: Path) -> None:
    port = free_port()
    sent = events(5)
    async with uplink_running(tmp_path / "outbox.db", f"http://127.0.0.1:{port}") as uplink:
        for event in sent:
            await uplink.submit(event)
    async with (
        receiver_running(port=port) as receiver,
        uplink_running(tmp_path / "outbox.db", receiver.url),
    ):
        requests = await receiver.wait_requests(5)
    assert [r.json()["id"] for r in requests] == [e.id for e in sent]


async def test_503_with_retry_after_is_retried_after_that_delay(tmp_path: Path) -> None:
    first, second = events(2)
    async with receiver_running() as receiver:
        receiver.script = [(503, {"Retry-After": "1"}, b"warming up")]
        async with uplink_running(tmp_path / "outbox.db", receiver.url) as uplink:
            await uplink.submit(first)
            await uplink.submit(second)
            requests = await receiver.wait_requests(3)
            await eventually("outbox drained", lambda: _pending_is(uplink, 0))
            status = await uplink.status()
    assert [r.json()["id"] for r in requests] == [first.id, first.id, second.id]
    # The backoff cap is 0.2 s: only the header explains a second's wait.
    assert requests[1].at - requests[0].at >= 0.95
    assert (status.sent, status.refused) == (2, 0)


async def test_a_retry_after_that_cannot_be_read_falls_back_to_the_backoff(
    tmp_path: Path,
) -> None:
    """ "\u00b2" is a digit to str.isdigit() and not to float(): the wait is the backoff's."""
    [ring] = events(1)
    async with receiver_running() as receiver:
        receiver.script = [(503, {"Retry-After": "\u00b2"}, b"busy")]
        async with uplink_running(tmp_path / "outbox.db", receiver.url) as uplink:
            await uplink.submit(ring)
            requests = await receiver.wait_requests(2)
            await eventually("outbox drained", lambda: _pending_is(uplink, 0))
            status = await uplink.status()
    assert [r.json()["id"] for r in requests] == [ring.id, ring.id]
    assert (status.sent, status.refused) == (1, 0)
    assert status.last_error is not None
    assert "HTTP 503" in status.last_error


async def test_a_refused_event_is_dropped_counted_and_does_not_block_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = events(2)
    async with receiver_running() as receiver:
        receiver.script = [(422, {}, b'{"detail": "unknown camera front-door"}')]
        async with uplink_running(tmp_path / "outbox.db", receiver.url) as uplink:
            with caplog.at_level(logging.ERROR, logger="agent.uplink"):
                await uplink.submit(bad)
                await uplink.submit(good)
                requests = await receiver.wait_requests(2)
                await eventually("outbox drained", lambda: _pending_is(uplink, 0))
            status = await uplink.status()
    assert [r.json()["id"] for r in requests] == [bad.id, good.id]
    assert (status.sent, status.refused, status.dropped) == (1, 1, 0)
    assert "unknown camera front-door" in caplog.text
    assert bad.id in caplog.text


async def test_a_wrong_token_keeps_the_event_until_the_server_takes_it(tmp_path: Path) -> None:
    [ring] = events(1)
    async with receiver_running() as receiver:
        receiver.script = [(401, {}, b'{"detail": "bad token"}')] * 3
        async with uplink_running(tmp_path / "outbox.db", receiver.url) as uplink:
            await uplink.submit(ring)
            requests = await receiver.wait_requests(4)
            await eventually("outbox drained", lambda: _pending_is(uplink, 0))
            status = await uplink.status()
    assert {r.json()["id"] for r in requests} == {ring.id}
    assert (status.sent, status.refused) == (1, 0)


async def test_a_lost_response_is_resent_with_the_same_id(tmp_path: Path) -> None:
    """At least once: the server dedupes by id, so the resend is harmless."""
    first, second = events(2)
    async with receiver_running() as receiver:
        receiver.script = [(HANGUP, {}, b"")]
        async with uplink_running(tmp_path / "outbox.db", receiver.url) as uplink:
            await uplink.submit(first)
            await uplink.submit(second)
            requests = await receiver.wait_requests(3)
            await eventually("outbox drained", lambda: _pending_is(uplink, 0))
    assert [r.json()["id"] for r in requests] == [first.id, first.id, second.id]


async def test_clock_offset_is_measured_and_sent_with_later_events(tmp_path: Path) -> None:
    sent = events(6)
    async with (
        receiver_running(shift_ms=5000) as receiver,
        uplink_running(tmp_path / "outbox.db", receiver.url) as uplink,
    ):
        began = time.monotonic()
        for event in sent:
            await uplink.submit(event)
        requests = await receiver.wait_requests(6)
        await eventually("outbox drained", lambda: _pending_is(uplink, 0))
        status = await uplink.status()
        # Any round trip took at most this long; the midpoint is off by at most half of it
        # (and half the 1-ms resolution, and rounding).
        error_ms = (time.monotonic() - began) * 1000 / 2 + 1
    # Before: the first event went without one (nothing measured yet), placed 5 s off.
    assert receiver.time_asked == [0]  # asked before the first event
    assert status.clock_offset_ms is not None
    assert abs(status.clock_offset_ms - 5000) <= error_ms
    for request in requests:
        assert abs(request.json()["clock_offset_ms"] - 5000) <= error_ms


async def test_a_slow_clock_is_corrected_from_the_first_event_after_a_start(
    tmp_path: Path,
) -> None:
    # A Pi 10 min slow: its first ring after a start was stored 600 s early.
    async with (
        receiver_running(shift_ms=600_000) as receiver,
        uplink_running(tmp_path / "outbox.db", receiver.url) as uplink,
    ):
        await uplink.submit(events(1)[0])
        (first,) = await receiver.wait_requests(1)
    assert abs(first.json()["clock_offset_ms"] - 600_000) < 1000


async def test_the_time_is_asked_again_after_a_reconnect_before_sending(tmp_path: Path) -> None:
    async with (
        receiver_running() as receiver,
        uplink_running(tmp_path / "outbox.db", receiver.url) as uplink,
    ):
        receiver.script = [(HANGUP, {}, b"")]  # the connection drops on the first event
        sent = events(2)
        for event in sent:
            await uplink.submit(event)
        requests = await receiver.wait_requests(3)
    assert [r.json()["id"] for r in requests] == [sent[0].id, sent[0].id, sent[1].id]
    assert receiver.time_asked == [0, 1]  # at start, then again before the resend


async def test_each_event_carries_the_offset_known_when_it_was_captured(tmp_path: Path) -> None:
    # The agent's clock is stepped (NTP after boot) between capture and sending: the event's
    # agent time was read on the old clock, so the old offset is the one that maps it.
    outbox = await AsyncOutbox.open(tmp_path / "outbox.db", max_events=10)
    captured, late = events(2)
    try:
        await outbox.put(captured, 42_000)  # captured when the offset was 42 s
        await outbox.put(late)  # captured before any offset was known
    finally:
        await outbox.aclose()
    async with (
        receiver_running(shift_ms=7000) as receiver,
        uplink_running(tmp_path / "outbox.db", receiver.url),
    ):
        first, second = await receiver.wait_requests(2)
    assert first.json()["clock_offset_ms"] == 42_000
    assert abs(second.json()["clock_offset_ms"] - 7000) < 1000  # measured before sending


async def test_aclose_stops_a_loop_that_is_backing_off(tmp_path: Path) -> None:
    port = free_port()
    async with uplink_running(tmp_path / "outbox.db", f"http://127.0.0.1:{port}") as uplink:
        await uplink.submit(events(1)[0])
        await eventually("a failed attempt", lambda: _error_contains(uplink, "ConnectError"))
        async with asyncio.timeout(2):
            await uplink.aclose()
        assert (await uplink.status()).pending == 1


async def _pending_is(uplink: Uplink, n: int) -> bool:
    return (await uplink.status()).pending == n


async def _error_contains(uplink: Uplink, text: str) -> bool:
    return text in ((await uplink.status()).last_error or "")
