"""The event uplink: sends the outbox, oldest first, to `POST /api/v1/agent/events`, retrying
with backoff, and measures the agent's clock offset to the server from the responses.

Retry policy (`classify()`): 2xx is delivered, and only then removed from the outbox. A 4xx
is the server refusing that event for good (logged with the body, removed, counted as
refused) except 401/403/404 (a wrong token, an older server without the route: the event is
fine, the deployment is not, so dropping it would lose every event until fixed), 408, 425
and 429. Those, 5xx, 1xx/3xx and connection errors retry the same event with capped
exponential backoff with jitter, or after Retry-After when the server sends one: an event is
never overtaken by a later one. A resend after a lost response is safe: the server dedupes
by event id.

The clock offset is measured from each response (agent/clock.py), and asked for before the
first send and after every connection error (`GET /api/v1/agent/time`), so that the first
event after a start or a reconnect already carries one. Each event is sent with the offset
known when it was captured (stored with it in the outbox); one captured before any offset was
known (the agent just started, the server unreachable, or `doorbell-agent ring` from another
process) gets the offset measured before it is sent: its agent time is mapped with today's
offset, which holds unless the agent's clock was stepped in between.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from agent.clock import ClockOffset, offset_sample, server_time
from agent.events import Event
from agent.outbox import AsyncOutbox, Pending
from common.clock import Clock, wall_ms
from common.retry import backoff_s, retry_after_s

logger = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/agent/events"
TIME_PATH = "/api/v1/agent/time"
# 4xx answers that say nothing against the event itself: retry it instead of dropping it.
RETRYABLE_4XX = frozenset({401, 403, 404, 408, 425, 429})
BATCH = 32  # events read from the outbox per query; still sent one per POST, in order

Outcome = Literal["sent", "refused", "retry"]


def classify(status: int) -> Outcome:
    """What an HTTP status means for the event that was sent (pure)."""
    if 200 <= status < 300:
        return "sent"
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return "refused"
    return "retry"


@dataclass(frozen=True, slots=True)
class UplinkStatus:
    """What `doorbell-agent status` shows of the uplink."""

    pending: int
    sent: int
    dropped: int
    refused: int
    last_error: str | None
    last_success_ms: int | None
    clock_offset_ms: int | None


class Uplink:
    """Delivers the outbox in order. `run()` is the loop (for a supervisor); `start()` runs it
    in a task this object owns and `aclose()` stops it. Neither the outbox nor the client is
    owned: the caller closes them. Producers call `submit()` (or `outbox.put()` then
    `notify()`, on the event loop's thread)."""

    def __init__(
        self,
        outbox: AsyncOutbox,
        api_url: str,
        device_token: str,
        client: httpx.AsyncClient,
        *,
        clock: Clock = wall_ms,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        max_retry_after_s: float = 60.0,
        request_timeout_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._url = api_url.rstrip("/") + EVENTS_PATH
        self._time_url = api_url.rstrip("/") + TIME_PATH
        self._clock_synced = False  # until the server's time was asked since (re)connecting
        self._headers = {"Authorization": f"Bearer {device_token}"}
        self._client = client
        self._clock = clock
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_retry_after_s = max_retry_after_s
        self._timeout = httpx.Timeout(request_timeout_s)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._wakeup = asyncio.Event()
        self._offset = ClockOffset()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._sent = 0
        self._refused = 0
        self._last_error: str | None = None
        self._last_success_ms: int | None = None

    def notify(self) -> None:
        """Something was put into the outbox: wake the loop. Call on the event loop's thread."""
        self._wakeup.set()

    async def submit(self, event: Event) -> bool:
        """Store `event` durably, then wake the loop. False if the outbox bound refused it."""
        accepted = await self._outbox.put(event, self._offset.estimate_ms)
        self.notify()
        return accepted

    async def status(self) -> UplinkStatus:
        return UplinkStatus(
            pending=await self._outbox.count(),
            sent=self._sent,
            dropped=self._outbox.dropped,
            refused=self._refused,
            last_error=self._last_error,
            last_success_ms=self._last_success_ms,
            clock_offset_ms=self._offset.estimate_ms,
        )

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("uplink already started")
        self._task = asyncio.create_task(self.run(), name="uplink")
        self._task.add_done_callback(_log_crash)

    async def aclose(self) -> None:
        """Stop the loop started by `start()` and wait for it; re-raise if it had crashed."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # our own caller is cancelling us, not just the loop ending

    async def run(self) -> None:
        """Deliver forever: wait for events, send each in order until a 2xx or a refusal."""
        while True:
            for item in await self._next_batch():
                delay = await self._attempt(item)
                if delay is not None:
                    await asyncio.sleep(delay)  # the retry backoff (or Retry-After)
                    break  # re-read the head: the bound may have dropped it meanwhile

    async def _next_batch(self) -> list[Pending]:
        while True:
            batch = await self._outbox.peek(BATCH)
            if batch:
                return batch
            self._wakeup.clear()
            # A put that completed before the clear is seen here; one after it sets the event.
            batch = await self._outbox.peek(BATCH)
            if batch:
                return batch
            await self._wakeup.wait()

    async def _attempt(self, item: Pending) -> float | None:
        """One POST of `item`. None when it is done with (sent or refused), else the delay
        before trying it again."""
        if not self._clock_synced:
            try:
                await self._sync_clock()
            except httpx.RequestError as exc:
                return self._retry(f"{type(exc).__name__}: {str(exc) or 'no detail'}", None)
        offset = item.clock_offset_ms
        payload = item.event.to_payload(self._offset.estimate_ms if offset is None else offset)
        timing = _RoundTrip(self._clock())
        try:
            response = await self._client.post(
                self._url,
                json=payload,
                headers=self._headers,
                timeout=self._timeout,
                extensions={"trace": timing.trace},
            )
        except httpx.RequestError as exc:
            self._clock_synced = False  # a reconnect follows: ask the time again first
            return self._retry(f"{type(exc).__name__}: {str(exc) or 'no detail'}", None)
        measured = server_time(response)
        if measured is not None:
            self._offset.add(offset_sample(*timing.sent_at_ms_and_rtt_ms(), *measured))
        outcome = classify(response.status_code)
        if outcome == "retry":
            now_ms = self._clock() + (self._offset.estimate_ms or 0)
            wait = retry_after_s(response.headers.get("retry-after"), now_ms)
            return self._retry(f"HTTP {response.status_code}: {response.text[:200]}", wait)
        # Removed before it is counted: once a 2xx is recorded the event is never sent again.
        await self._outbox.remove([item.seq])
        if outcome == "sent":
            self._sent += 1
            self._last_success_ms = self._clock()
            if self._failures:
                logger.info("uplink: delivering again after %d failed attempts", self._failures)
            self._failures = 0
        else:
            self._refused += 1
            self._last_error = f"refused {item.event.id}: HTTP {response.status_code}"
            logger.error(
                "uplink: server refused event %s (%s) with HTTP %d, dropped: %.500s",
                item.event.id,
                item.event.kind,
                response.status_code,
                response.text,
            )
        return None

    async def _sync_clock(self) -> None:
        """Measure the offset from the server's time before sending. Any answer counts (an
        older server without the route answers 404 with a Date header); a connection error
        is raised for the caller to retry."""
        timing = _RoundTrip(self._clock())
        response = await self._client.get(
            self._time_url,
            headers=self._headers,
            timeout=self._timeout,
            extensions={"trace": timing.trace},
        )
        measured = server_time(response)
        if measured is not None:
            self._offset.add(offset_sample(*timing.sent_at_ms_and_rtt_ms(), *measured))
        self._clock_synced = True

    def _retry(self, error: str, retry_after: float | None) -> float:
        if retry_after is not None:
            delay = min(retry_after, self._max_retry_after_s)
        else:
            delay = backoff_s(
                self._failures,
                base_s=self._backoff_base_s,
                cap_s=self._backoff_max_s,
                jitter=self._rng.random(),
            )
        self._failures += 1
        self._last_error = error
        # The first failure of a streak is a warning; the rest would flood the log of a Pi
        # that is offline for hours.
        log = logger.warning if self._failures == 1 else logger.debug
        log("uplink: %s; retrying in %.2f s (attempt %d)", error, delay, self._failures)
        return delay


class _RoundTrip:
    """When the request headers left and the response headers arrived, from httpcore's trace
    extension, so that connecting (a fresh TCP/TLS handshake) and queueing for a pooled
    connection do not skew the midpoint. Falls back to the whole call's span."""

    def __init__(self, wall_ms: int) -> None:
        self._wall_ms = wall_ms
        self._start = time.monotonic()
        self._sent: float | None = None
        self._received: float | None = None

    async def trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith(".send_request_headers.started"):
            self._sent = time.monotonic()
        elif name.endswith(".receive_response_headers.complete"):
            self._received = time.monotonic()

    def sent_at_ms_and_rtt_ms(self) -> tuple[float, float]:
        sent = self._start if self._sent is None else self._sent
        received = time.monotonic() if self._received is None else self._received
        return self._wall_ms + (sent - self._start) * 1000, (received - sent) * 1000


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("uplink loop crashed", exc_info=task.exception())
