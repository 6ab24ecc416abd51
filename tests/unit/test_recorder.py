"""EventRecorder against a buffer that shares the CameraBuffer interface and grows on command:
when snapshots and clips are made, how a motion clip follows its motion_end, and a camera
that stops sending video."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pytest

from api.config import EventSettings
from api.media import MediaFiles
from api.metrics import Metrics
from api.ports import ClipFormat
from api.ranges import WholeFile
from api.recorder import EventRecorder
from api.records import EventRecord, MediaState

T0 = 1_790_000_000_000
EVENT_ID = "0b9d2d3e-6c1a-4d6e-9a7e-2f4f5e6a7b8c"


@dataclass(frozen=True)
class Seg:
    seq: int
    session: int
    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Plan:
    key: str
    start_ms: int
    end_ms: int
    gaps: Sequence[Seg] = ()


@dataclass
class Stats:
    newest_ms: int | None
    last_segment_age_ms: int | None


class GrowingBuffer:
    """Video from T0 - 10 s up to `newest_ms`, which the test moves."""

    def __init__(self) -> None:
        self.newest_ms = T0 + 500  # the event's own frame is in
        self.online = True  # and the camera publishes
        self.first_ms = T0 - 10_000
        self.changed = asyncio.Condition()
        self.planned: list[tuple[int, int]] = []

    async def grow_to(self, ms: int) -> None:
        async with self.changed:
            self.newest_ms = ms
            self.changed.notify_all()

    def stats(self) -> Stats:
        return Stats(self.newest_ms, None)

    async def wait_until(self, ms: int, timeout_s: float) -> bool:
        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.changed.wait_for(lambda: self.newest_ms >= ms), timeout_s
                )
            return self.newest_ms >= ms

    async def snapshot_at(self, at_ms: int) -> tuple[Seg, int, bytes] | None:
        if not self.first_ms <= at_ms <= self.newest_ms:
            return None
        start = at_ms - at_ms % 1000
        return Seg(1, 1, start, start + 1000), at_ms, b"\xff\xd8jpeg\xff\xd9"

    def plan(self, start_ms: int, end_ms: int) -> Plan | None:
        self.planned.append((start_ms, end_ms))
        start, end = max(start_ms, self.first_ms), min(end_ms, self.newest_ms)
        return Plan(f"{start}-{end}", start, end) if end > start else None

    async def assemble(self, plan: Plan, fmt: ClipFormat, out: Path) -> WholeFile:
        data = f"{fmt}:{plan.start_ms}-{plan.end_ms}".encode()
        await asyncio.to_thread(out.write_bytes, data)
        return WholeFile(len(data))

    def notify_publish(self) -> None: ...
    def stream_fmp4(self, plan: Plan) -> AsyncIterator[bytes]: ...  # type: ignore[empty-body]
    async def read_segment(self, seq: int) -> bytes | None: ...
    async def snapshot(self) -> tuple[Seg, bytes] | None: ...
    def recent(self, count: int | None) -> Sequence[Seg]: ...  # type: ignore[empty-body]


class Events:
    """An in-memory EventRepository."""

    def __init__(self, event: EventRecord) -> None:
        self.rows = {event.id: event}

    async def get(self, event_id: str) -> EventRecord | None:
        return self.rows.get(event_id)

    async def set_snapshot(
        self, event_id: str, state: MediaState, path: str | None, at_ms: int | None
    ) -> EventRecord | None:
        if event_id not in self.rows:
            return None
        row = replace(
            self.rows[event_id], snapshot_state=state, snapshot_path=path, snapshot_at_ms=at_ms
        )
        self.rows[event_id] = row
        return row

    async def set_clip(
        self,
        event_id: str,
        state: MediaState,
        path: str | None,
        start_ms: int | None,
        end_ms: int | None,
        size: int | None,
    ) -> EventRecord | None:
        if event_id not in self.rows:
            return None
        row = replace(
            self.rows[event_id],
            clip_state=state,
            clip_path=path,
            clip_start_ms=start_ms,
            clip_end_ms=end_ms,
            clip_bytes=size,
        )
        self.rows[event_id] = row
        return row

    async def pending_media(self) -> list[EventRecord]:
        return [r for r in self.rows.values() if "pending" in (r.snapshot_state, r.clip_state)]

    async def saved_clips(self) -> list[EventRecord]:
        return []

    async def older_than(self, at_ms: int, limit: int = 500) -> list[EventRecord]:
        return []

    async def delete(self, ids: Collection[str]) -> list[EventRecord]:
        return [self.rows.pop(i) for i in ids if i in self.rows]


def event(kind: str) -> EventRecord:
    return EventRecord(
        id=EVENT_ID,
        camera="front",
        kind=kind,  # type: ignore[arg-type]
        at_ms=T0,
        agent_at_ms=T0,
        clock_offset_ms=0,
        received_ms=T0,
    )


def recorder(
    tmp_path: Path, buffer: GrowingBuffer, events: Events, updates: Updates
) -> EventRecorder:
    settings = EventSettings(pre_roll_s=2, post_roll_s=3, max_clip_s=20, media_wait_s=1)
    return EventRecorder(
        {"front": cast(Any, buffer)},
        events,
        MediaFiles(tmp_path),
        settings,
        Metrics(),
        updates,
        lambda _camera: buffer.online,
    )


class Updates(list[EventRecord]):
    """The recorder's on_update calls, awaitable."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, record: EventRecord) -> None:
        self.append(record)
        task = asyncio.get_running_loop().create_task(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, check: Callable[[], bool], timeout_s: float = 5) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), timeout_s)


@pytest.mark.anyio
async def test_a_ring_gets_its_snapshot_then_its_clip_once_the_post_roll_is_in(
    tmp_path: Path,
) -> None:
    buffer, updates = GrowingBuffer(), Updates()
    events = Events(event("ring"))
    rec = recorder(tmp_path, buffer, events, updates)
    rec.record(events.rows[EVENT_ID])
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "ready")
    assert events.rows[EVENT_ID].clip_state == "pending"
    await buffer.grow_to(T0 + 2000)
    await asyncio.sleep(0.05)  # turns for the recorder to (wrongly) finish: an absence
    assert events.rows[EVENT_ID].clip_state == "pending"  # post-roll not in yet
    await buffer.grow_to(T0 + 3000)
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready")
    row = events.rows[EVENT_ID]
    assert (row.clip_start_ms, row.clip_end_ms) == (T0 - 2000, T0 + 3000)
    assert row.clip_path is not None
    assert (tmp_path / row.clip_path).read_bytes() == f"mp4:{T0 - 2000}-{T0 + 3000}".encode()
    assert [u.clip_state for u in updates] == ["pending", "ready"]
    await rec.aclose()


@pytest.mark.anyio
async def test_a_motion_clip_runs_until_its_end_plus_the_post_roll(tmp_path: Path) -> None:
    buffer, updates = GrowingBuffer(), Updates()
    events = Events(event("motion_start"))
    rec = recorder(tmp_path, buffer, events, updates)
    rec.record(events.rows[EVENT_ID])
    for ms in range(T0 + 1000, T0 + 9000, 1000):  # motion goes on past the post-roll
        await buffer.grow_to(ms)
        await asyncio.sleep(0.01)  # turns for the recorder to (wrongly) finish early
    assert events.rows[EVENT_ID].clip_state == "pending"
    rec.motion_ended(EVENT_ID, T0 + 8000)
    await buffer.grow_to(T0 + 11_000)
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready")
    assert events.rows[EVENT_ID].clip_end_ms == T0 + 11_000
    await rec.aclose()


@pytest.mark.anyio
async def test_a_camera_that_stops_sending_ends_the_clip_with_what_there_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.recorder.MIN_PATIENCE_S", 0.3)
    monkeypatch.setattr("api.recorder.WAIT_STEP_S", 0.05)
    buffer, updates = GrowingBuffer(), Updates()
    events = Events(event("ring"))
    rec = EventRecorder(
        {"front": cast(Any, buffer)},
        events,
        MediaFiles(tmp_path),
        EventSettings(pre_roll_s=2, post_roll_s=3, media_wait_s=1),
        Metrics(),
        updates,
        lambda _camera: buffer.online,
    )
    rec.record(events.rows[EVENT_ID])
    await buffer.grow_to(T0 + 1000)  # then nothing more
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready", 10)
    assert events.rows[EVENT_ID].clip_end_ms == T0 + 1000
    await rec.aclose()


@pytest.mark.anyio
async def test_no_video_at_all_fails_both_at_once(tmp_path: Path) -> None:
    buffer, updates = GrowingBuffer(), Updates()
    buffer.newest_ms, buffer.online = T0 - 60_000, False  # the camera is off
    events = Events(event("ring"))
    rec = recorder(tmp_path, buffer, events, updates)
    rec.record(events.rows[EVENT_ID])
    # No waiting for video that is not coming: well within media_wait_s (1 s).
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "failed", 0.5)
    assert events.rows[EVENT_ID].snapshot_state == "failed"
    assert await asyncio.to_thread(lambda: list(tmp_path.rglob("*.mp4"))) == []
    assert rec.active == 0
    await rec.aclose()


@pytest.mark.anyio
async def test_a_camera_that_comes_back_in_time_gets_its_media(tmp_path: Path) -> None:
    buffer, updates = GrowingBuffer(), Updates()
    buffer.newest_ms = T0 - 60_000  # it just started publishing: no segment yet
    events = Events(event("ring"))
    rec = recorder(tmp_path, buffer, events, updates)
    rec.record(events.rows[EVENT_ID])
    await buffer.grow_to(T0 + 500)
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "ready")
    await buffer.grow_to(T0 + 3000)
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready")
    await rec.aclose()


@pytest.mark.anyio
async def test_an_event_just_before_the_first_segment_gets_the_first_frame(
    tmp_path: Path,
) -> None:
    buffer, updates = GrowingBuffer(), Updates()
    buffer.first_ms = T0 + 1200  # the stream's video starts 1.2 s after the event
    events = Events(event("ring"))
    rec = recorder(tmp_path, buffer, events, updates)
    rec.record(events.rows[EVENT_ID])
    await buffer.grow_to(T0 + 2200)
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "ready")
    assert events.rows[EVENT_ID].snapshot_at_ms == T0 + 1200
    await rec.aclose()
