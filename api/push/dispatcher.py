"""The push queue: jobs sent with bounded concurrency, every attempt logged, dead tokens and
subscriptions forgotten, transient failures retried with backoff until the message's TTL runs
out. Channel-blind: it hands devices to one notifier (in the server, the routing notifier
over FCM and Web Push), so every channel gets the same queue, retries and log."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from api.events.model import DeviceRecord, EventRecord, MessageKind, PushOutcome
from api.push.messages import PushMessage
from api.push.notifier import Notifier, SendResult
from api.push.policy import retry_delay
from common.clock import Clock, wall_ms

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEAD: frozenset[PushOutcome] = frozenset({"unregistered", "invalid"})
RETRIED: frozenset[PushOutcome] = frozenset({"unavailable", "internal", "quota"})


class DeliveryLog(Protocol):
    """Where each attempt for each device is written (the store's delivery table)."""

    async def record(
        self,
        event_id: str,
        device: DeviceRecord,
        message: MessageKind,
        attempt: int,
        at_ms: int,
        outcome: PushOutcome,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None: ...


class TokenRegistry(Protocol):
    """The registered devices, as far as dead tokens (FCM tokens, Web Push endpoints) go."""

    async def forget_token(self, token: str) -> bool:
        """Delete the device that has this token; False when there was none."""
        ...


@dataclass(frozen=True, slots=True)
class PushJob:
    """One message for some devices, because of one event."""

    event: EventRecord
    message: PushMessage
    devices: tuple[DeviceRecord, ...]
    received_ns: int  # time.monotonic_ns() when the triggering request arrived
    # Resolves to whether the event was stored. A push may leave before the event's commit
    # (the phone should not wait for a disk): attempts are logged once it is stored, and not
    # at all if it was not (the delivery log hangs off the stored event).
    stored: asyncio.Future[bool] | None = None


class PushDispatcher:
    """Owns the push queue. `submit` from request handlers; `run` under a supervisor.

    Bounds: `queue_size` jobs waiting, and as many taken off the queue but not finished
    (sending or waiting to retry); when both are full `submit` refuses (and counts a drop).
    At most `concurrency` jobs call the notifier at once; a job waiting for its retry holds
    no sending slot, so a new ring never waits behind another job's backoff."""

    def __init__(
        self,
        notifier: Notifier,
        log: DeliveryLog,
        tokens: TokenRegistry,
        *,
        queue_size: int = 1000,
        concurrency: int = 4,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_attempts: int = 8,
        wall_clock: Clock = wall_ms,
        on_attempt: Callable[[PushOutcome], None] | None = None,
        on_first_send: Callable[[float], None] | None = None,
    ) -> None:
        if queue_size < 1 or concurrency < 1 or max_attempts < 1:
            raise ValueError("queue_size, concurrency and max_attempts must be >= 1")
        if not 0 < backoff_min_s <= backoff_max_s:
            raise ValueError("need 0 < backoff_min_s <= backoff_max_s")
        self._notifier, self._log, self._tokens = notifier, log, tokens
        self._queue: asyncio.Queue[PushJob] = asyncio.Queue(queue_size)
        self._live = asyncio.Semaphore(queue_size)
        self._sending = asyncio.Semaphore(concurrency)
        self._backoff = (backoff_min_s, backoff_max_s)
        self._max_attempts = max_attempts
        self._wall_clock = wall_clock
        self._on_attempt, self._on_first_send = on_attempt, on_first_send
        self._rng = random.Random()  # noqa: S311 (jitter, not secrets)
        self._counts = dict.fromkeys(
            ("accepted", "dropped", "started", "finished", "in_flight", "retrying",
             "attempts", "sent", "expired", "forgotten", "failed", "last_progress_ms"),
            0,
        )  # fmt: skip

    def submit(self, job: PushJob) -> bool:
        """Queue `job` without waiting; False (logged, counted as dropped) when full."""
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._counts["dropped"] += 1
            logger.warning(
                "push queue full (%d): dropped %s for event %s to %d device(s)",
                self._queue.maxsize, job.message.kind, job.event.id, len(job.devices),
            )  # fmt: skip
            return False
        self._counts["accepted"] += 1
        return True

    def stats(self) -> dict[str, int]:
        """Counters for /healthz and metrics; last_progress_ms: wall clock of the last
        finished attempt (0: none yet)."""
        return {"queued": self._queue.qsize(), **self._counts}

    async def run(self) -> None:
        """Send jobs until cancelled. Cancelling cancels and reaps every job in progress."""
        async with asyncio.TaskGroup() as jobs:
            while True:
                await self._live.acquire()
                try:
                    job = await self._queue.get()
                except BaseException:
                    self._live.release()
                    raise
                self._counts["started"] += 1
                jobs.create_task(self._job(job), name=f"push-{job.event.id}")

    async def _job(self, job: PushJob) -> None:
        try:
            await self._deliver(job)
        except Exception:
            # A bug in one job must not cancel its siblings through the task group.
            self._counts["failed"] += 1
            logger.exception("push for event %s failed", job.event.id)
        finally:
            self._counts["finished"] += 1
            self._live.release()

    async def _deliver(self, job: PushJob) -> None:
        devices = {device.id: device for device in job.devices}
        pending = list(devices.values())
        if not pending:
            return
        ttl_s = job.message.ttl_s
        attempt = 1
        # TTL 0 means now or never: one attempt, no retries.
        if ttl_s > 0 and _age_s(job) >= ttl_s:
            await self._expire(job, pending, attempt)
            return
        while True:
            retry, retry_after = await self._round(job, pending, attempt)
            if not retry:
                return
            if attempt >= self._max_attempts:
                logger.warning(
                    "push for event %s: giving up on %d device(s) after %d attempts",
                    job.event.id, len(retry), attempt,
                )  # fmt: skip
                return
            delay = retry_delay(attempt, *self._backoff, retry_after, self._rng.random())
            attempt += 1
            if _age_s(job) + delay >= ttl_s:
                await self._expire(job, retry, attempt)
                return
            self._counts["retrying"] += 1
            try:
                await asyncio.sleep(delay)  # the retry backoff (or the service's Retry-After)
            finally:
                self._counts["retrying"] -= 1
            if _age_s(job) >= ttl_s:
                await self._expire(job, retry, attempt)
                return
            pending = retry

    async def _round(
        self, job: PushJob, devices: list[DeviceRecord], attempt: int
    ) -> tuple[list[DeviceRecord], float | None]:
        """One attempt for `devices`, each outcome settled: the devices to retry, and the
        longest Retry-After a push service asked for (None: none asked)."""
        results = await self._attempt(job, devices, attempt)
        retry: list[DeviceRecord] = []
        retry_after: float | None = None
        for device in devices:
            result = results.get(device.id) or SendResult(device.id, "error", error="no result")
            await self._settle(job, device, attempt, result)
            if result.outcome in RETRIED:
                retry.append(device)
                if result.retry_after_s is not None:
                    retry_after = max(retry_after or 0.0, result.retry_after_s)
        return retry, retry_after

    async def _attempt(
        self, job: PushJob, devices: Sequence[DeviceRecord], attempt: int
    ) -> dict[str, SendResult]:
        # The push service gets what is left of the TTL: a late retry does not outlive the
        # original.
        left = max(0, math.ceil(job.message.ttl_s - _age_s(job)))
        message = job.message
        if left != message.ttl_s:
            message = dataclasses.replace(message, ttl_s=left)
        async with self._sending:
            if attempt == 1 and self._on_first_send is not None:
                latency_s = (time.monotonic_ns() - job.received_ns) / 1e9
                _call(self._on_first_send, latency_s)
            self._counts["in_flight"] += 1
            try:
                results = await self._notifier.send(message, list(devices))
            except Exception as exc:
                logger.exception("notifier failed for event %s", job.event.id)
                results = [
                    SendResult(d.id, "error", error=f"notifier failed: {exc}") for d in devices
                ]
            finally:
                self._counts["in_flight"] -= 1
        return {result.device_id: result for result in results}

    async def _settle(
        self, job: PushJob, device: DeviceRecord, attempt: int, result: SendResult
    ) -> None:
        """Count, log and act on one device's outcome; store failures are logged, not fatal."""
        self._counts["attempts"] += 1
        if result.outcome in ("sent", "expired"):
            self._counts[result.outcome] += 1
        now_ms = self._wall_clock()
        self._counts["last_progress_ms"] = now_ms
        if self._on_attempt is not None:
            _call(self._on_attempt, result.outcome)
        if result.outcome not in ("sent", "logged", "expired"):
            logger.info(
                "push attempt %d for event %s to device %s (%s): %s %s",
                attempt, job.event.id, device.id, device.channel, result.outcome,
                result.error or "",
            )  # fmt: skip
        try:
            if job.stored is not None and not await asyncio.shield(job.stored):
                return
            await self._log.record(
                job.event.id, device, job.message.kind, attempt, now_ms, result.outcome,
                message_id=result.message_id, error=result.error,
            )  # fmt: skip
        except Exception:
            logger.exception("could not log push attempt for event %s", job.event.id)
        if result.outcome in DEAD:
            await self._forget(device, result.outcome)

    async def _forget(self, device: DeviceRecord, outcome: PushOutcome) -> None:
        try:
            if await self._tokens.forget_token(device.token):
                self._counts["forgotten"] += 1
                logger.info(
                    "forgot device %s: its push service (%s) says %s",
                    device.id, device.channel, outcome,
                )  # fmt: skip
        except Exception:
            logger.exception("could not forget the token of device %s", device.id)

    async def _expire(self, job: PushJob, devices: list[DeviceRecord], attempt: int) -> None:
        """Log `expired` once per device: retrying after the TTL would deliver a stale alert."""
        for device in devices:
            result = SendResult(device.id, "expired", error=f"TTL of {job.message.ttl_s} s passed")
            await self._settle(job, device, attempt, result)


def _age_s(job: PushJob) -> float:
    return (time.monotonic_ns() - job.received_ns) / 1e9


def _call(callback: Callable[[T], None], value: T) -> None:
    try:
        callback(value)
    except Exception:
        logger.exception("push metrics callback failed")
