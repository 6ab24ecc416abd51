"""EventRecorder against a buffer that shares the CameraBuffer interface and grows on command:
when snapshots and clips are made, how a motion clip follows its motion_end, and a camera
that stops sending video."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from api.config import EventSettings
from api.events.files import MediaFiles
from api.events.model import EventRecord, MediaState
from api.events.recorder import ClipWindow, EventRecorder
from api.http.ranges import WholeFile
from api.metrics import Metrics
from common.events import EventKind
from common.media import ClipFormat
from tests.api.events.test_accept import NOW, record
from tests.api.fakes import FakeBuffer, FakePlan
from tests.conftest import eventually

T0 = 1_790_000_000_000
EVENT_ID = "0b9d2d3e-6c1a-4d6e-9a7e-2f4f5e6a7b8c"


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
        unsettled = {"pending", "error"}
        return [r for r in self.rows.values() if {r.snapshot_state, r.clip_state} & unsettled]

    async def saved_clips(self) -> list[EventRecord]:
        return []

    async def older_than(self, at_ms: int, limit: int = 500) -> list[EventRecord]:
        return []

    async def delete(self, ids: Collection[str]) -> list[EventRecord]:
        return [self.rows.pop(i) for i in ids if i in self.rows]


def event(kind: EventKind) -> EventRecord:
    return EventRecord(
        id=EVENT_ID,
        camera="front",
        kind=kind,
        at_ms=T0,
        agent_at_ms=T0,
        clock_offset_ms=0,
        received_ms=T0,
    )


class Camera:
    """Whether the fake camera publishes (the recorder's `camera_online`)."""

    def __init__(self) -> None:
        self.online = True

    def __call__(self, camera_id: str) -> bool:
        return self.online


def growing_buffer() -> FakeBuffer:
    """Video from T0 - 10 s; the event's own frame is in."""
    return FakeBuffer(first_ms=T0 - 10_000, newest_ms=T0 + 500)


def recorder(
    tmp_path: Path,
    buffer: FakeBuffer,
    events: Events,
    updates: Updates,
    camera: Camera | None = None,
    settings: EventSettings | None = None,
    **tunables: float,
) -> EventRecorder:
    settings = settings or EventSettings(pre_roll_s=2, post_roll_s=3, max_clip_s=20, media_wait_s=1)
    return EventRecorder(
        {"front": buffer},
        events,
        MediaFiles(tmp_path),
        settings,
        Metrics(),
        on_update=updates,
        on_clip_saved=updates.clip_saved,
        camera_online=camera or Camera(),
        **tunables,
    )


class Updates(list[EventRecord]):
    """The recorder's on_update calls, awaitable."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Condition()
        self.clips_saved = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def clip_saved(self) -> None:
        self.clips_saved += 1

    def __call__(self, record: EventRecord) -> None:
        self.append(record)
        task = asyncio.get_running_loop().create_task(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, check: Callable[[], bool], timeout_s: float = 10) -> None:
        async with self.changed, asyncio.timeout(timeout_s):
            await self.changed.wait_for(check)


@pytest.mark.anyio
async def test_a_ring_gets_its_snapshot_then_its_clip_once_the_post_roll_is_in(
    tmp_path: Path,
) -> None:
    buffer, updates = growing_buffer(), Updates()
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
    assert (tmp_path / row.clip_path).read_bytes() == f"mp4:{T0 - 2000}-{T0 + 3000}".encode() * 100
    assert [u.clip_state for u in updates] == ["pending", "ready"]
    await rec.aclose()


@pytest.mark.anyio
async def test_a_motion_clip_runs_until_its_end_plus_the_post_roll(tmp_path: Path) -> None:
    buffer, updates = growing_buffer(), Updates()
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
    tmp_path: Path,
) -> None:
    buffer, updates = growing_buffer(), Updates()
    events = Events(event("ring"))
    settings = EventSettings(pre_roll_s=2, post_roll_s=3, media_wait_s=1)
    rec = recorder(
        tmp_path, buffer, events, updates, settings=settings, min_patience_s=0.3, wait_step_s=0.05
    )
    rec.record(events.rows[EVENT_ID])
    await buffer.grow_to(T0 + 1000)  # then nothing more
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready", 10)
    assert events.rows[EVENT_ID].clip_end_ms == T0 + 1000
    await rec.aclose()


@pytest.mark.anyio
async def test_no_video_at_all_fails_both_at_once(tmp_path: Path) -> None:
    buffer, updates, camera = growing_buffer(), Updates(), Camera()
    buffer.newest_ms, camera.online = T0 - 60_000, False  # the camera is off
    events = Events(event("ring"))
    rec = recorder(tmp_path, buffer, events, updates, camera)
    rec.record(events.rows[EVENT_ID])
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "failed")
    assert events.rows[EVENT_ID].snapshot_state == "failed"
    # Failed at once: no wait for video that is not coming (holding a recording slot).
    assert buffer.waited == []
    assert await asyncio.to_thread(lambda: list(tmp_path.rglob("*.mp4"))) == []
    assert rec.active == 0
    await rec.aclose()


@pytest.mark.anyio
async def test_a_camera_that_comes_back_in_time_gets_its_media(tmp_path: Path) -> None:
    buffer, updates = growing_buffer(), Updates()
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
    buffer, updates = growing_buffer(), Updates()
    buffer.first_ms = T0 + 1200  # the stream's video starts 1.2 s after the event
    events = Events(event("ring"))
    rec = recorder(tmp_path, buffer, events, updates)
    rec.record(events.rows[EVENT_ID])
    await buffer.grow_to(T0 + 2200)
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "ready")
    assert events.rows[EVENT_ID].snapshot_at_ms == T0 + 1200
    await rec.aclose()


class TestClipWindow:
    window = ClipWindow(pre_ms=5000, post_ms=10_000, max_ms=120_000)

    def test_ring(self) -> None:
        ring = record("ring", NOW)
        assert self.window.start(ring) == NOW - 5000
        assert self.window.end(ring, None) == NOW + 10_000

    def test_motion_waits_for_its_end_up_to_the_cap(self) -> None:
        motion = record("motion_start", NOW)
        assert self.window.end(motion, None) == NOW + 120_000
        assert self.window.end(motion, NOW + 30_000) == NOW + 40_000
        assert self.window.end(motion, NOW + 500_000) == NOW + 120_000
        # An end reported before the start (clock noise) still gets the post-roll.
        assert self.window.end(motion, NOW - 1000) == NOW + 10_000


class FullDisk(MediaFiles):
    """The media directory on a disk that is full (ENOSPC) until `full` is cleared."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.full = True

    def _write(self, rel: str, chunks: Iterable[bytes]) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super()._write(rel, chunks)


def on_full_disk(
    tmp_path: Path, buffer: FakeBuffer, events: Events, updates: Updates, metrics: Metrics
) -> tuple[EventRecorder, FullDisk]:
    disk = FullDisk(tmp_path)
    settings = EventSettings(
        pre_roll_s=2,
        post_roll_s=3,
        max_clip_s=20,
        media_wait_s=1,
        media_retry_min_s=0.02,
        media_retry_max_s=0.1,
    )
    rec = EventRecorder(
        {"front": buffer},
        events,
        disk,
        settings,
        metrics,
        on_update=updates,
        on_clip_saved=updates.clip_saved,
        camera_online=Camera(),
    )
    return rec, disk


@pytest.mark.anyio
async def test_media_that_cannot_be_written_is_marked_error_counted_and_retried(
    tmp_path: Path,
) -> None:
    buffer, updates, metrics = growing_buffer(), Updates(), Metrics()
    events = Events(event("ring"))
    rec, disk = on_full_disk(tmp_path, buffer, events, updates, metrics)
    rec.record(events.rows[EVENT_ID])
    # Before: the snapshot stayed "pending" for ever (503 "still being made").
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "error")
    assert metrics.media_write_failures.value("snapshot", "ENOSPC") >= 1
    disk.full = False  # space is freed: the retry gets through
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "ready")
    disk.full = True  # and is gone again when the clip is due
    await buffer.grow_to(T0 + 3000)
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "error")
    assert metrics.media_write_failures.value("clip", "ENOSPC") >= 1
    assert metrics.event_clips.value("no_video") == 0  # not "the camera was off"
    disk.full = False
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready")
    row = events.rows[EVENT_ID]
    assert row.clip_path is not None
    assert (tmp_path / row.clip_path).stat().st_size > 0
    assert metrics.event_clips.value("saved") == 1
    await rec.aclose()


@pytest.mark.anyio
async def test_media_whose_video_has_left_the_buffer_stays_error(tmp_path: Path) -> None:
    buffer, updates, metrics = growing_buffer(), Updates(), Metrics()
    events = Events(event("ring"))
    rec, _disk = on_full_disk(tmp_path, buffer, events, updates, metrics)
    await buffer.grow_to(T0 + 3000)  # the clip is due as soon as the snapshot is settled
    rec.record(events.rows[EVENT_ID])
    await updates.until(lambda: events.rows[EVENT_ID].snapshot_state == "error")
    buffer.first_ms = T0 + 1000  # the buffer rolled past the event's frame: given up
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "error")
    buffer.first_ms = T0 + 5000  # and past what is left of its clip
    await eventually("the recorder to give up", lambda: not rec.active, 10)
    row = events.rows[EVENT_ID]
    assert (row.snapshot_state, row.clip_state) == ("error", "error")
    assert metrics.event_clips.value("write_failed") == 1
    await rec.aclose()


class FullScratch(FakeBuffer):
    """A buffer whose assembly fails for lack of space, translated into its own error (as the
    segmenter's ClipError wraps the OSError), until `full` is cleared."""

    full = True

    async def assemble(self, plan: FakePlan, fmt: ClipFormat, out: Path) -> WholeFile:
        if self.full:
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError as exc:
                raise RuntimeError(f"writing the clip failed: {exc}") from exc
        return await super().assemble(plan, fmt, out)


@pytest.mark.anyio
async def test_a_clip_whose_assembly_runs_out_of_space_is_error_then_retried(
    tmp_path: Path,
) -> None:
    buffer, updates, metrics = (
        FullScratch(first_ms=T0 - 10_000, newest_ms=T0 + 3000),
        Updates(),
        Metrics(),
    )
    events = Events(event("ring"))
    rec, disk = on_full_disk(tmp_path, buffer, events, updates, metrics)
    disk.full = False  # only the assembly's scratch space is short
    rec.record(events.rows[EVENT_ID])
    # Before: "failed", as if the camera had been off, and never retried.
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "error")
    assert metrics.media_write_failures.value("clip", "ENOSPC") >= 1
    buffer.full = False
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready")
    await rec.aclose()


@pytest.mark.anyio
async def test_after_a_restart_media_left_in_error_is_retried(tmp_path: Path) -> None:
    # The server restarted while the disk was full: the buffer still holds the video.
    buffer, updates = growing_buffer(), Updates()
    await buffer.grow_to(T0 + 3000)
    events = Events(replace(event("ring"), snapshot_state="error", clip_state="error"))
    rec = recorder(tmp_path, buffer, events, updates)
    assert await rec.recover() == 1
    await updates.until(lambda: events.rows[EVENT_ID].clip_state == "ready")
    assert events.rows[EVENT_ID].snapshot_state == "ready"
    await rec.aclose()


@pytest.mark.anyio
async def test_after_a_restart_media_in_error_whose_video_is_gone_stays_error(
    tmp_path: Path,
) -> None:
    buffer, updates = FakeBuffer(first_ms=T0 + 60_000, newest_ms=T0 + 70_000), Updates()
    events = Events(replace(event("ring"), snapshot_state="error", clip_state="error"))
    rec = recorder(tmp_path, buffer, events, updates)
    await rec.recover()
    await eventually("the recorder to settle", lambda: not rec.active, 10)
    row = events.rows[EVENT_ID]
    assert (row.snapshot_state, row.clip_state) == ("error", "error")  # not "failed"
    await rec.aclose()
