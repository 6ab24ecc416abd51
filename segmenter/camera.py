"""One camera's rolling buffer: the writing side (ffmpeg sessions, indexing finished segments,
eviction on time) and, sharing its index, a `BufferReader` for the reading side.

`CameraSegmenter.run()` is the supervised loop. It restarts ffmpeg with capped backoff when it
exits or stalls; each run that produces segments is a new publisher session. A second loop
evicts exactly when the oldest segment expires, so an idle camera's footage still ages out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from common.clock import Clock, wall_ms
from common.media import ClipFormat
from common.process import spawn, stop_process
from common.retry import backoff_s
from segmenter import sidecar
from segmenter.clip import ClipPlan
from segmenter.config import SegmenterConfig
from segmenter.errors import FfmpegNotFound
from segmenter.ffmpeg import segmenter_argv
from segmenter.formats.faststart import Layout
from segmenter.formats.mpegts import HEAD_BYTES, starts_with_keyframe
from segmenter.formats.samples import index_file
from segmenter.index import SegmentIndex
from segmenter.listing import parse_list_line, seq_of
from segmenter.model import ListEntry, Segment, SegmenterStats
from segmenter.placement import place
from segmenter.reader import BufferReader, delete_files

logger = logging.getLogger(__name__)


class CameraSegmenter:
    """One camera's buffer: owns its directory, its index and its ffmpeg child (the writing
    side, here) and a `reader` over the same index, which it tells of each new segment.

    The reading methods at the end hand on to the reader, so that this one object is what the
    server's `CameraBuffer` protocol needs.
    """

    def __init__(self, config: SegmenterConfig, clock: Clock = wall_ms) -> None:
        self.config = config
        self.index = SegmentIndex(config.camera, config.buffer_ms, config.max_bytes)
        self.reader = BufferReader(config.camera, self.index)
        self._clock = clock
        self._recovered = False
        self._session = 0
        self._next_seq = 0
        self._sidecar_lines = 0
        self._restarts = 0
        self._state = "idle"
        self._last_exit: str | None = None
        self._pid: int | None = None
        self._last_segment_monotonic: float | None = None
        self._kick = asyncio.Event()
        self._index_changed = asyncio.Event()
        self._fast_until = 0.0
        self._stderr_tail: deque[str] = deque(maxlen=5)
        self._first_segment = asyncio.Event()
        # Serialises sidecar appends and rewrites, which run in worker threads.
        self._io_lock = asyncio.Lock()

    @property
    def camera(self) -> str:
        return self.config.camera

    # -- lifecycle -----------------------------------------------------------------------
    async def recover(self) -> int:
        """Rebuild the index from the sidecar and drop partial files. Returns segments kept."""
        found = await asyncio.to_thread(sidecar.recover, self.camera, self.config.directory)
        for segment in found.segments:
            self.index.add(segment)
        if found.segments:
            self._session = max(s.session for s in found.segments)
            self._next_seq = found.segments[-1].seq + 1
        await self.evict()
        self._sidecar_lines = len(self.index)
        self._recovered = True
        logger.info(
            "camera %s: recovered %d segments (%d files dropped)",
            self.camera,
            len(found.segments),
            len(found.removed),
        )
        return len(found.segments)

    async def run(self) -> None:
        """Segment forever: the ffmpeg session loop and the eviction timer, together."""
        if not self._recovered:
            await self.recover()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._sessions(), name=f"segmenter-{self.camera}")
                group.create_task(self._retention(), name=f"retention-{self.camera}")
        except ExceptionGroup as failed:
            # The first failure cancels its sibling; re-raise it bare so the caller's
            # supervisor can tell a transient error (OSError) from a fatal one.
            raise failed.exceptions[0] from None

    def notify_publish(self) -> None:
        """The relay accepted a publisher for this camera: pull now, not after the backoff."""
        self._fast_until = time.monotonic() + self.config.fast_retry_window_s
        self._kick.set()

    async def wait_first_segment(self) -> None:
        """Return once a segment has been indexed since this object was made or recovered."""
        await self._first_segment.wait()

    def stats(self) -> SegmenterStats:
        index = self.index
        oldest, newest = index.oldest, index.newest
        age = None
        if self._last_segment_monotonic is not None:
            age = int((time.monotonic() - self._last_segment_monotonic) * 1000)
        return SegmenterStats(
            camera=self.camera,
            state=self._state,
            segments=len(index),
            seconds=index.total_ms / 1000,
            bytes=index.total_bytes,
            oldest_ms=oldest.start_ms if oldest else None,
            newest_ms=newest.end_ms if newest else None,
            last_segment_age_ms=age,
            sessions=self._session,
            restarts=self._restarts,
            last_exit=self._last_exit,
            pid=self._pid,
            gaps=tuple(index.gaps()),
        )

    # -- the session loop ----------------------------------------------------------------
    async def _sessions(self) -> None:
        failures = 0  # sessions in a row that produced no segment
        while True:
            produced = await self._one_session()
            self._restarts += 1
            failures = 0 if produced else failures + 1
            delay = restart_delay(self.config, failures, time.monotonic() < self._fast_until)
            self._state = "waiting"
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._kick.wait()
            if self._kick.is_set() and time.monotonic() < self._fast_until:
                # Woken by a publish: give the relay a moment to register the stream.
                await asyncio.sleep(self.config.fast_retry_s)

    async def _one_session(self) -> int:
        """Run ffmpeg until it exits or stalls; returns how many segments it produced."""
        argv = segmenter_argv(
            self.config.ffmpeg, self.config.source_url, self.config.directory, self._next_seq
        )
        try:
            # SIGKILL if the server dies: nothing must keep pulling or hold the camera's
            # directory; the next start drops the segment it was writing.
            proc = await spawn(argv, death_signal=signal.SIGKILL, stdout=asyncio.subprocess.PIPE)
        except (FileNotFoundError, PermissionError) as exc:
            self._state = "dead"
            raise FfmpegNotFound(f"cannot run {self.config.ffmpeg!r}: {exc}") from exc
        self._pid = proc.pid
        self._state = "pulling"
        self._stderr_tail.clear()
        assert proc.stdout is not None
        assert proc.stderr is not None
        stderr_task = asyncio.create_task(self._drain_stderr(proc.stderr))
        produced = 0
        session = self._session + 1
        reason = "exited"
        try:
            while True:
                try:
                    async with asyncio.timeout(self.config.stall_timeout_s):
                        line = await proc.stdout.readline()
                except TimeoutError:
                    reason = f"stalled: no segment for {self.config.stall_timeout_s:g}s"
                    break
                if not line:
                    break
                entry = parse_list_line(line.decode("utf-8", "replace"))
                if entry is None:
                    logger.warning("camera %s: ignoring list line %r", self.camera, line[:200])
                    continue
                if produced == 0:
                    self._session = session
                    self._state = "recording"
                if await self._index_segment(entry, session):
                    produced += 1
        finally:
            status = await stop_process(proc, group=True)
            stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task
            self._pid = None
            await asyncio.to_thread(self._drop_partials)
        tail = "; ".join(self._stderr_tail)
        self._last_exit = f"{reason} (status {status}){': ' + tail if tail else ''}"
        if produced:
            logger.info(
                "camera %s: session %d ended after %d segments: %s",
                self.camera,
                session,
                produced,
                self._last_exit,
            )
        else:
            logger.debug("camera %s: pull ended without segments: %s", self.camera, self._last_exit)
        return produced

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr_tail.append(text[:300])
                logger.debug("camera %s ffmpeg: %s", self.camera, text)

    async def _index_segment(self, entry: ListEntry, session: int) -> bool:
        """Index one finished segment; False if its file is gone (nothing to index)."""
        arrival = self._clock()
        seq = seq_of(entry.filename)
        if seq is None or seq < self._next_seq:
            logger.warning("camera %s: unexpected segment %s", self.camera, entry.filename)
            return False
        path = self.config.directory / entry.filename
        inspected = await asyncio.to_thread(_inspect, path)
        if inspected is None:
            logger.warning("camera %s: ffmpeg listed %s but it is gone", self.camera, path)
            return False
        size, keyframe = inspected
        # Indexed once here so that clips of it are concatenated, not remuxed.
        samples = await asyncio.to_thread(index_file, path)
        start = place(self.index.newest, session, entry, arrival)
        segment = Segment(
            camera=self.camera,
            seq=seq,
            session=session,
            start_ms=start,
            end_ms=start + entry.duration_ms,
            size=size,
            path=path,
            keyframe_start=keyframe,
            samples=samples,
        )
        if not keyframe:
            logger.warning("camera %s: segment %d does not start with a keyframe", self.camera, seq)
        self.index.add(segment)
        self._next_seq = seq + 1
        self._last_segment_monotonic = time.monotonic()
        self._first_segment.set()
        self._index_changed.set()
        async with self._io_lock:
            await asyncio.to_thread(sidecar.append, self.config.directory, segment)
        self._sidecar_lines += 1
        await self.reader.on_indexed()  # after the sidecar line: a waiter sees one that lasts
        await self.evict()
        return True

    def _drop_partials(self) -> None:
        """Delete files ffmpeg started but never listed (it was stopped mid-segment)."""
        for path in self.config.directory.glob("seq-*.ts"):
            seq = seq_of(path.name)
            if seq is not None and seq >= self._next_seq:
                path.unlink(missing_ok=True)

    # -- retention -----------------------------------------------------------------------
    async def evict(self) -> None:
        """Evict what has expired by now and delete the unpinned files (a worker thread)."""
        expired = self.index.evict(self._clock())
        compact = self._sidecar_lines > 2 * len(self.index) + 64
        if not expired and not compact:
            return
        paths = [s.path for s in expired]
        survivors = list(self.index.segments) if compact else None

        def io() -> None:
            delete_files(paths)
            if survivors is not None:
                sidecar.rewrite(self.config.directory, survivors)

        async with self._io_lock:
            await asyncio.to_thread(io)
        if compact:
            self._sidecar_lines = len(self.index)

    async def _retention(self) -> None:
        """Evict at the exact moment the oldest segment expires, even with no new segments."""
        while True:
            self._index_changed.clear()
            await self.evict()
            deadline = self.index.next_expiry_ms()
            timeout = None if deadline is None else max(deadline - self._clock(), 0) / 1000 + 0.001
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._index_changed.wait()

    # -- reading: handed on to the reader (for the server's CameraBuffer) ---------------------
    def recent(self, count: int | None) -> Sequence[Segment]:
        return self.reader.recent(count)

    def plan(self, start_ms: int, end_ms: int) -> ClipPlan | None:
        return self.reader.plan(start_ms, end_ms)

    async def assemble(self, plan: ClipPlan, fmt: ClipFormat, out: Path) -> Layout:
        return await self.reader.assemble(plan, fmt, out)

    def stream_fmp4(self, plan: ClipPlan) -> AsyncIterator[bytes]:
        return self.reader.stream_fmp4(plan)

    async def read_segment(self, seq: int) -> bytes | None:
        return await self.reader.read_segment(seq)

    async def snapshot(self) -> tuple[Segment, bytes] | None:
        return await self.reader.snapshot()

    async def snapshot_at(self, at_ms: int) -> tuple[Segment, int, bytes] | None:
        return await self.reader.snapshot_at(at_ms)

    async def wait_until(self, ms: int, timeout_s: float) -> bool:
        return await self.reader.wait_until(ms, timeout_s)


def restart_delay(config: SegmenterConfig, failures: int, after_publish: bool) -> float:
    """Seconds before the next ffmpeg run, after `failures` runs in a row without a segment
    (0: the last run produced some): doubling from `backoff_min_s` up to `backoff_max_s`,
    and at most `fast_retry_s` while a publish notification is fresh.

    No jitter: each camera pulls from our own relay on loopback, so there is no crowd of
    clients to spread out, and a publish cuts the wait short anyway.
    """
    delay = backoff_s(failures, base_s=config.backoff_min_s, cap_s=config.backoff_max_s)
    return min(delay, config.fast_retry_s) if after_publish else delay


def _inspect(path: Path) -> tuple[int, bool] | None:
    """Size of a finished segment and whether it starts with a keyframe; None if gone."""
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            size = f.seek(0, 2)
    except FileNotFoundError:
        return None
    return size, starts_with_keyframe(head)
