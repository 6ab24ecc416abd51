"""Fakes of what the API takes from outside, held to the real protocols by mypy: a camera
buffer (`api.video.ports.SupervisedBuffer`), a push notifier (`api.push.notifier.Notifier`),
a clock (`common.clock.Clock`) and cheap argon2 parameters.

`FakeBuffer` holds 1-s segments of made-up bytes from `first_ms` up to `newest_ms`, which a
test moves with `grow_to`; it is what the in-process app tier serves video from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher

from api.events.model import DeviceRecord, PushOutcome
from api.http.ranges import WholeFile
from api.push.messages import PushMessage
from api.push.notifier import SendResult
from api.video.ports import SupervisedBuffer
from common.clock import Clock
from common.media import ClipFormat

JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
SEGMENT_MS = 1000
# argon2id at its smallest: a test signs in in microseconds, not a fifth of a second.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class FakeClock:
    """Epoch ms that move only when a test says so."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, *, ms: int = 0, s: float = 0, days: float = 0) -> None:
        self.now_ms += ms + round(s * 1000) + round(days * 86_400_000)


@dataclass(frozen=True)
class FakeSegment:
    seq: int
    session: int
    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class FakeGap:
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class FakePlan:
    key: str
    start_ms: int
    end_ms: int
    gaps: Sequence[FakeGap] = ()
    source_bytes: int = 1000


@dataclass(frozen=True)
class FakeStats:
    camera: str
    state: str
    segments: int
    seconds: float
    bytes: int
    oldest_ms: int | None
    newest_ms: int | None
    last_segment_age_ms: int | None
    sessions: int = 1
    restarts: int = 0
    last_exit: str | None = None
    pid: int | None = None
    gaps: Sequence[FakeGap] = ()


class FakeBuffer:
    """An in-memory camera buffer. `waited` records each `wait_until` (ms, timeout)."""

    def __init__(
        self,
        camera: str = "front",
        *,
        first_ms: int,
        newest_ms: int,
        segment_bytes: int = 2000,
    ) -> None:
        self.camera = camera
        self.first_ms = first_ms
        self.newest_ms = newest_ms
        self.segment_bytes = segment_bytes
        self.changed = asyncio.Condition()
        self.planned: list[tuple[int, int]] = []
        self.waited: list[tuple[int, float]] = []
        self.publish_notices = 0
        self.ran = asyncio.Event()
        self.last_segment_age_ms: int | None = None  # a test sets it: video is arriving

    # -- what a test does ----------------------------------------------------------------------
    async def grow_to(self, ms: int) -> None:
        async with self.changed:
            self.newest_ms = ms
            self.changed.notify_all()

    # -- the protocol ----------------------------------------------------------------------------
    def stats(self) -> FakeStats:
        count = len(self.recent(None))
        return FakeStats(
            camera=self.camera,
            state="recording",
            segments=count,
            seconds=count * SEGMENT_MS / 1000,
            bytes=count * self.segment_bytes,
            oldest_ms=self.first_ms if count else None,
            newest_ms=self.newest_ms,
            last_segment_age_ms=self.last_segment_age_ms,
        )

    def notify_publish(self) -> None:
        self.publish_notices += 1

    def plan(self, start_ms: int, end_ms: int) -> FakePlan | None:
        self.planned.append((start_ms, end_ms))
        start, end = max(start_ms, self.first_ms), min(end_ms, self.newest_ms)
        if end <= start:
            return None
        segments = -(-(end - start) // SEGMENT_MS)
        return FakePlan(
            f"{self.camera}-{start}-{end}", start, end, (), segments * self.segment_bytes
        )

    async def assemble(self, plan: FakePlan, fmt: ClipFormat, out: Path) -> WholeFile:
        data = f"{fmt}:{plan.start_ms}-{plan.end_ms}".encode() * 100
        await asyncio.to_thread(out.write_bytes, data)
        return WholeFile(len(data))

    async def stream_fmp4(self, plan: FakePlan) -> AsyncIterator[bytes]:
        for ms in range(plan.start_ms, plan.end_ms, SEGMENT_MS):
            yield f"fmp4:{ms};".encode()

    async def read_segment(self, seq: int) -> bytes | None:
        held = {s.seq for s in self.recent(None)}
        return bytes([seq % 256]) * self.segment_bytes if seq in held else None

    async def snapshot(self) -> tuple[FakeSegment, bytes] | None:
        newest = self.recent(1)
        return (newest[0], JPEG) if newest else None

    async def snapshot_at(self, at_ms: int) -> tuple[FakeSegment, int, bytes] | None:
        if not self.first_ms <= at_ms <= self.newest_ms:
            return None
        return self._segment(at_ms), at_ms, JPEG

    async def wait_until(self, ms: int, timeout_s: float) -> bool:
        """As the segmenter's: until the newest whole segment ends at `ms` or later."""
        self.waited.append((ms, timeout_s))

        def covered() -> bool:
            newest = self.recent(1)
            return bool(newest) and newest[-1].end_ms >= ms

        async with self.changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self.changed.wait_for(covered)
            return covered()

    def recent(self, count: int | None) -> Sequence[FakeSegment]:
        first = self.first_ms - self.first_ms % SEGMENT_MS
        segments = [
            self._segment(ms) for ms in range(first, self.newest_ms - SEGMENT_MS + 1, SEGMENT_MS)
        ]
        return segments if count is None else segments[-count:]

    async def recover(self) -> int:
        return 0

    async def run(self) -> None:
        self.ran.set()
        await asyncio.Event().wait()  # a segmenter loop runs until cancelled

    def _segment(self, at_ms: int) -> FakeSegment:
        start = at_ms - at_ms % SEGMENT_MS
        return FakeSegment(start // SEGMENT_MS, 1, start, start + SEGMENT_MS)


@dataclass
class RecordingNotifier:
    """A push service (for every channel) that accepts every message and records it with
    the devices it was for; every device gets `outcome`."""

    sent: list[tuple[PushMessage, list[DeviceRecord]]] = field(default_factory=list)
    outcome: PushOutcome = "sent"

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        self.sent.append((message, list(devices)))
        number = len(self.sent)
        return [SendResult(d.id, self.outcome, message_id=f"m-{number}") for d in devices]

    async def aclose(self) -> None:
        return None


def _typed() -> None:
    """mypy holds the fakes to the protocols the app takes."""
    from api.push.notifier import Notifier

    buffer: SupervisedBuffer[FakePlan] = FakeBuffer(first_ms=0, newest_ms=0)
    notifier: Notifier = RecordingNotifier()
    clock: Clock = FakeClock()
    del buffer, notifier, clock
