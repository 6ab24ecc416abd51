"""What the push tests share: a recording delivery log and device registry (the
dispatcher's protocols), devices and jobs, an FCM notifier for the fake FCM server, a running
dispatcher, and bounded waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import google.oauth2.credentials

from api.events.model import (
    Channel,
    DeviceRecord,
    EventRecord,
    MessageKind,
    PushOutcome,
    WebPushKeys,
)
from api.push import (
    DeliveryLog,
    FcmNotifier,
    Notifier,
    PushDispatcher,
    PushJob,
    TokenRegistry,
    alert_message,
)
from tests.conftest import eventually
from tests.fakefcm import PROJECT, STATIC_ACCESS_TOKEN

T = TypeVar("T")
IMAGE = "https://door.example/api/events/e1/snapshot.jpg?sig=abc"
LINK = "doorbell://events/e1"


@dataclass
class Logged:
    """One attempt as the dispatcher logged it (by the device's token)."""

    token: str
    message: MessageKind
    attempt: int
    outcome: PushOutcome
    message_id: str | None
    error: str | None


@dataclass
class RecordingLog:
    """The delivery log, in memory; `fail` makes it raise as a locked database would."""

    entries: list[Logged] = field(default_factory=list)
    fail: bool = False

    async def record(
        self, event_id: str, device: DeviceRecord, message: MessageKind, attempt: int,
        at_ms: int, outcome: PushOutcome, message_id: str | None = None,
        error: str | None = None,
    ) -> None:  # fmt: skip
        if self.fail:
            raise RuntimeError("database is locked")
        self.entries.append(Logged(device.token, message, attempt, outcome, message_id, error))

    def of(self, token: str) -> list[tuple[int, PushOutcome]]:
        return [(e.attempt, e.outcome) for e in self.entries if e.token == token]


@dataclass
class Registry:
    """The device registry, as far as forgetting dead tokens goes."""

    forgotten: list[str] = field(default_factory=list)
    fail: bool = False

    async def forget_token(self, token: str) -> bool:
        if self.fail:
            raise RuntimeError("database is locked")
        self.forgotten.append(token)
        return True


def ring(event_id: str = "e1") -> EventRecord:
    return EventRecord(
        id=event_id, camera="front", kind="ring", at_ms=1_720_000_000_000,
        agent_at_ms=1_720_000_000_000, clock_offset_ms=0, received_ms=1_720_000_000_000,
    )  # fmt: skip


def device(token: str, keys: WebPushKeys | None = None) -> DeviceRecord:
    """An FCM device with this token; with `keys`, a browser's Web Push subscription whose
    endpoint is `token`."""
    channel: Channel = "fcm" if keys is None else "web_push"
    return DeviceRecord(
        id=f"dev-{token}", token=token, platform="android" if keys is None else "web",
        name=token, cameras=None, motion=True, quiet_hours=None, created_ms=0, updated_ms=0,
        channel=channel, web_push_keys=keys,
    )  # fmt: skip


def job(
    *targets: str | DeviceRecord, ttl_s: int = 60, event_id: str = "e1", age_s: float = 0
) -> PushJob:
    """A ring's alert for these devices (a string: an FCM device with that token), made
    `age_s` ago."""
    event = ring(event_id)
    return PushJob(
        event=event,
        message=alert_message(event, "Front door", IMAGE, LINK, ttl_s),
        devices=tuple(t if isinstance(t, DeviceRecord) else device(t) for t in targets),
        received_ns=time.monotonic_ns() - int(age_s * 1e9),
    )


def fast(
    notifier: Notifier, log: RecordingLog, registry: Registry, **options: Any
) -> PushDispatcher:
    """A dispatcher with backoffs short enough for tests (50-200 ms)."""
    options = {"backoff_min_s": 0.05, "backoff_max_s": 0.2, **options}
    return PushDispatcher(notifier, log, registry, **options)


@asynccontextmanager
async def fcm(project_id: str = PROJECT, **options: Any) -> AsyncIterator[FcmNotifier]:
    credential = google.oauth2.credentials.Credentials(STATIC_ACCESS_TOKEN)
    notifier = FcmNotifier(credential, project_id, **options)
    try:
        yield notifier
    finally:
        await notifier.aclose()


@asynccontextmanager
async def running(dispatcher: PushDispatcher) -> AsyncIterator[PushDispatcher]:
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, "dispatcher did not stop within 5 s of being cancelled"


async def finished(dispatcher: PushDispatcher, jobs: int = 1, timeout_s: float = 5.0) -> None:
    await eventually(f"{jobs} job(s) done", lambda: dispatcher.stats()["finished"] >= jobs,
                     timeout_s)  # fmt: skip


def gap_s(first: Any, second: Any) -> float:
    """Seconds between two requests a fake service recorded (their `received_ns`)."""
    return float((second.received_ns - first.received_ns) / 1e9)


def _typed() -> None:
    """mypy holds the recorders to the dispatcher's protocols."""
    log: DeliveryLog = RecordingLog()
    registry: TokenRegistry = Registry()
    del log, registry
