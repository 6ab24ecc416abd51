"""Event media: for each ring and motion_start, a JPEG of the frame at the event's time and a
saved clip from pre-roll to post-roll (a motion clip extended until its motion_end, capped),
written once the buffer holds the post-roll and kept beyond the rolling buffer.

A write that fails (disk full, I/O error) marks the media `error` at once (not `failed`, which
means "no video"), is counted, and is retried with doubling waits for as long as the buffer
still holds the video it needs; then `error` stays."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from api.config import EventSettings
from api.events.files import MediaFiles
from api.events.model import EventRecord
from api.events.ports import EventRepository
from api.metrics import Metrics
from api.video.ports import CameraBuffer
from common.retry import backoff_s

T = TypeVar("T")
Media = Literal["snapshot", "clip"]

logger = logging.getLogger(__name__)

# Re-check the clip's target this often while waiting (a motion_end also wakes the wait).
WAIT_STEP_S = 1.0
# Segments come every second, give or take the network: a shorter wait for the next one
# would cut clips of a camera that is merely late.
MIN_PATIENCE_S = 5.0
# Media still to be made: being made, or its write failed and it is retried (after a restart
# too, while the buffer holds its video).
UNSETTLED = frozenset({"pending", "error"})
# An event just before the camera's first segment gets the first frame this close after it.
SNAPSHOT_SLACK_MS = 3000


@dataclass(frozen=True, slots=True)
class ClipWindow:
    """The rule for how far an event's clip reaches (pure; all UTC epoch ms)."""

    pre_ms: int
    post_ms: int
    max_ms: int

    def start(self, event: EventRecord) -> int:
        return event.at_ms - self.pre_ms

    def end(self, event: EventRecord, ended_at_ms: int | None) -> int:
        """A ring: post-roll after it. Motion: post-roll after its end, at least after its
        start, at most `max_ms` after its start; until it has ended, the cap (keep waiting)."""
        if event.kind != "motion_start":
            return event.at_ms + self.post_ms
        cap = event.at_ms + self.max_ms
        if ended_at_ms is None:
            return cap
        return min(max(ended_at_ms, event.at_ms) + self.post_ms, cap)


class _Recording:
    def __init__(self, event: EventRecord) -> None:
        self.event = event
        self.ended_at_ms = event.ended_at_ms
        self.changed = asyncio.Event()
        self.snapshot_done = asyncio.Event()


class EventRecorder:
    """Makes each event's snapshot and clip in its own task (bounded in number)."""

    def __init__(
        self,
        buffers: dict[str, CameraBuffer[Any]],
        events: EventRepository,
        media: MediaFiles,
        settings: EventSettings,
        metrics: Metrics,
        *,
        on_update: Callable[[EventRecord], None],
        on_clip_saved: Callable[[], None],
        camera_online: Callable[[str], bool],
        wait_step_s: float = WAIT_STEP_S,
        min_patience_s: float = MIN_PATIENCE_S,
    ) -> None:
        """`on_update` hears of every snapshot and clip made or failed, `on_clip_saved` of
        each saved clip (retention's cue); `camera_online` says if a camera publishes."""
        self._buffers = buffers
        self._camera_online = camera_online
        self._on_clip_saved = on_clip_saved
        self._wait_step_s = wait_step_s
        self._min_patience_s = min_patience_s
        self._events = events
        self._media = media
        self._settings = settings
        self._metrics = metrics
        self._on_update = on_update
        self._window = ClipWindow(
            round(settings.pre_roll_s * 1000),
            round(settings.post_roll_s * 1000),
            round(settings.max_clip_s * 1000),
        )
        self._recordings: dict[str, _Recording] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Event clips are short; one assembly at a time keeps the cores for request clips.
        self._assembly = asyncio.Semaphore(1)

    @property
    def active(self) -> int:
        return len(self._recordings)

    def record(self, event: EventRecord) -> None:
        """Start making `event`'s pending media (no-op if already being made)."""
        if event.id in self._recordings:
            return
        if event.snapshot_state not in UNSETTLED and event.clip_state not in UNSETTLED:
            return
        recording = _Recording(event)
        self._recordings[event.id] = recording
        busy = len(self._recordings) > self._settings.max_recordings
        task = asyncio.create_task(self._run(recording, busy), name=f"event-media-{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def motion_ended(self, start_event_id: str, ended_at_ms: int) -> None:
        recording = self._recordings.get(start_event_id)
        if recording is not None:
            recording.ended_at_ms = ended_at_ms
            recording.changed.set()

    async def wait_snapshot(self, event_id: str, timeout_s: float) -> None:
        """Return once the event's snapshot is made or given up (or after `timeout_s`)."""
        recording = self._recordings.get(event_id)
        if recording is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):  # wait_for can drop a cancel (3.11)
                    await recording.snapshot_done.wait()

    async def recover(self) -> int:
        """After a restart: resume what was pending (the buffer may still hold the video)."""
        pending = await self._events.pending_media()
        for event in pending:
            self.record(event)
        return len(pending)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one event -------------------------------------------------------------------------
    async def _run(self, recording: _Recording, busy: bool) -> None:
        event = recording.event
        snapshot_settled = False
        try:
            buffer = self._buffers.get(event.camera)
            why = None
            if busy:
                why = "too many recordings at once"
            elif buffer is None:
                why = "camera no longer configured"
            elif self._offline(event, buffer):
                why = "the camera sends no video"
            if why is not None or buffer is None:  # (the second: for the type checker)
                logger.warning("event %s: no media (%s)", event.id, why)
                await self._fail(event, snapshot=True, clip=True)
                return
            await self._make_media(recording, buffer)
            snapshot_settled = True
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not take the others down; the record says "failed", the snapshot too
            # if it was not settled (a snapshot left "pending" would answer 503 forever).
            logger.exception("event %s: making its media failed", event.id)
            with contextlib.suppress(Exception):
                await self._fail(event, snapshot=not snapshot_settled, clip=True)
        finally:
            recording.snapshot_done.set()
            self._recordings.pop(event.id, None)

    async def _make_media(self, recording: _Recording, buffer: CameraBuffer[Any]) -> None:
        """The snapshot, then the clip. The snapshot runs in a task of its own, and the clip
        waits only for its first attempt: a snapshot retrying for disk space must not hold
        the clip up until the buffer has rolled past the clip's video too."""
        event = recording.event
        snapshot = None
        if event.snapshot_state in UNSETTLED:
            snapshot = asyncio.create_task(
                self._snapshot(event, buffer, recording.snapshot_done.set)
            )
        try:
            if snapshot is not None:
                await _first(snapshot, recording.snapshot_done)
            recording.snapshot_done.set()
            if event.clip_state in UNSETTLED:
                await self._clip(recording, buffer)
            if snapshot is not None:
                await snapshot
        finally:
            if snapshot is not None and not snapshot.done():
                snapshot.cancel()
                await asyncio.gather(snapshot, return_exceptions=True)

    def _offline(self, event: EventRecord, buffer: CameraBuffer[Any]) -> bool:
        """The buffer does not reach the event and the camera is not publishing: waiting
        would only hold a recording slot (a doorbell whose camera is off still rings). A camera
        that has just started publishing is online before its first segment arrives."""
        newest = buffer.stats().newest_ms
        reaches = newest is not None and newest >= event.at_ms
        return not reaches and not self._camera_online(event.camera)

    async def _snapshot(
        self, event: EventRecord, buffer: CameraBuffer[Any], on_error: Callable[[], None]
    ) -> None:
        await buffer.wait_until(event.at_ms + 1, self._settings.media_wait_s)
        shot = await buffer.snapshot_at(event.at_ms)
        if shot is None:
            # Just before the camera's first segment (motion seen as a stream starts, or a
            # gap): the first frame after it, if it is close enough to show the same scene.
            later = buffer.plan(event.at_ms, event.at_ms + SNAPSHOT_SLACK_MS)
            if later is not None:
                shot = await buffer.snapshot_at(later.start_ms)
        if shot is None and event.snapshot_state == "error":
            logger.error("event %s: its snapshot is lost (the buffer moved on)", event.id)
            return  # a write error it was, not "no video": it stays "error"
        if shot is None:
            logger.info("event %s: no video at %d for a snapshot", event.id, event.at_ms)
            updated = await self._events.set_snapshot(event.id, "failed", None, None)
        else:
            _segment, frame_ms, jpeg = shot
            rel = self._media.relative(event, "jpg")
            written = await self._persist(
                event,
                "snapshot",
                lambda: self._media.write(rel, jpeg),
                frame_ms,
                buffer,
                on_error,
            )
            if written is None:
                return
            updated = await self._events.set_snapshot(event.id, "ready", rel, frame_ms)
            if updated is None:
                await self._media.remove([rel])  # deleted while it was being made
        if updated is not None:
            self._on_update(updated)

    async def _clip(self, recording: _Recording, buffer: CameraBuffer[Any]) -> None:
        event = recording.event
        end_ms = await self._wait_for_end(recording, buffer)
        plan = buffer.plan(self._window.start(event), end_ms)
        if plan is None and event.clip_state == "error":
            logger.error("event %s: its clip is lost (the buffer moved on)", event.id)
            return  # a write error it was, not "no video": it stays "error"
        if plan is None:
            logger.info("event %s: no video for a clip", event.id)
            self._metrics.event_clips.inc("no_video")
            await self._fail(event, snapshot=False, clip=True)
            return
        rel = self._media.relative(event, "mp4")
        part = self._media.path(rel).with_suffix(".assembling")
        started = time.monotonic()

        async def assemble_and_write() -> int:
            async with self._assembly:
                try:
                    await asyncio.to_thread(part.parent.mkdir, parents=True, exist_ok=True)
                    layout = await buffer.assemble(plan, "mp4", part)
                    return await self._media.write_layout(rel, part, layout)
                finally:
                    await asyncio.to_thread(part.unlink, True)

        size = await self._persist(event, "clip", assemble_and_write, plan.start_ms, buffer)
        if size is None:
            self._metrics.event_clips.inc("write_failed")
            return
        self._metrics.clip_latency.observe(time.monotonic() - started)
        self._metrics.event_clips.inc("saved")
        updated = await self._events.set_clip(
            event.id, "ready", rel, plan.start_ms, plan.end_ms, size
        )
        if updated is None:
            await self._media.remove([rel])  # deleted while it was being made
            return
        self._on_clip_saved()
        self._on_update(updated)

    async def _wait_for_end(self, recording: _Recording, buffer: CameraBuffer[Any]) -> int:
        """Wait until the buffer holds the clip's end (which a motion_end may move); stop
        early if the camera stops sending video, keeping what there is."""
        loop = asyncio.get_running_loop()
        patience_s = max(self._settings.media_wait_s, self._min_patience_s)
        last_progress = loop.time()
        newest = buffer.stats().newest_ms
        while True:
            recording.changed.clear()
            end_ms = self._window.end(recording.event, recording.ended_at_ms)
            if await buffer.wait_until(end_ms, 0):
                return end_ms
            changed = asyncio.ensure_future(recording.changed.wait())
            arrived = asyncio.ensure_future(buffer.wait_until(end_ms, self._wait_step_s))
            try:
                await asyncio.wait({changed, arrived}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (changed, arrived):
                    waiter.cancel()
                await asyncio.gather(changed, arrived, return_exceptions=True)
            now_newest = buffer.stats().newest_ms
            if now_newest != newest:
                newest, last_progress = now_newest, loop.time()
            elif loop.time() - last_progress > patience_s:
                logger.info(
                    "event %s: camera %s sent no video for %.0f s; saving the clip as is",
                    recording.event.id,
                    recording.event.camera,
                    patience_s,
                )
                return end_ms

    async def _persist(
        self,
        event: EventRecord,
        media: Media,
        write: Callable[[], Awaitable[T]],
        from_ms: int,
        buffer: CameraBuffer[Any],
        on_error: Callable[[], None] | None = None,
    ) -> T | None:
        """`write()`, retried after a write error while the buffer still holds `from_ms`
        (the video the media is made of): waits of `media_retry_min_s` doubling up to
        `media_retry_max_s`. The first error marks the media `error`; None once given up."""
        settings = self._settings
        failures = 0
        while True:
            try:
                return await write()
            except Exception as exc:
                cause = _os_error(exc)
                if cause is None:
                    raise
                reason = errno.errorcode.get(cause.errno or 0, "EIO")
                self._metrics.media_write_failures.inc(media, reason)
                if failures == 0:
                    await self._mark_error(event, media)
                    if on_error is not None:
                        on_error()
                delay = backoff_s(
                    failures, base_s=settings.media_retry_min_s, cap_s=settings.media_retry_max_s
                )
                failures += 1
                logger.warning(
                    "event %s: cannot write its %s (%s); retry %d in %.1fs",
                    event.id,
                    media,
                    exc,
                    failures,
                    delay,
                )
            await asyncio.sleep(delay)  # the retry backoff itself
            oldest = buffer.stats().oldest_ms
            if oldest is None or oldest > from_ms:
                logger.error("event %s: its %s is lost (the buffer moved on)", event.id, media)
                return None

    async def _mark_error(self, event: EventRecord, media: Media) -> None:
        if media == "snapshot":
            updated = await self._events.set_snapshot(event.id, "error", None, None)
        else:
            updated = await self._events.set_clip(event.id, "error", None, None, None, None)
        if updated is not None:
            self._on_update(updated)

    async def _fail(self, event: EventRecord, *, snapshot: bool, clip: bool) -> None:
        updated = None
        if snapshot and event.snapshot_state == "pending":
            updated = await self._events.set_snapshot(event.id, "failed", None, None)
        if clip and event.clip_state == "pending":
            updated = await self._events.set_clip(event.id, "failed", None, None, None, None)
        if updated is not None:
            self._on_update(updated)


async def _first(task: asyncio.Task[None], event: asyncio.Event) -> None:
    """Return once `task` is done or `event` is set, whichever comes first."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind `exc`, if any: the buffer translates its own into ClipError."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain is short; a cycle must not loop
        if seen is None:
            return None
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
