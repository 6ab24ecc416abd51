"""Reading one camera's rolling buffer: pins, clips (MP4, ZIP, streamed fMP4), segments,
snapshots, and waiting for video to arrive. The writing side (ffmpeg sessions, indexing,
eviction) is `segmenter.camera.CameraSegmenter`, which owns a `BufferReader` over its index
and calls `on_indexed()` after each segment it adds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from common.media import ClipFormat
from segmenter.clip import ClipPlan, plan_clip, remux_mp4, write_zip
from segmenter.errors import ClipError
from segmenter.formats.faststart import Layout, faststart_layout
from segmenter.formats.mp4concat import concat_mp4
from segmenter.index import SegmentIndex
from segmenter.model import Segment
from segmenter.snapshot import frame_jpeg, keyframe_jpeg
from segmenter.threads import stream_from_thread

logger = logging.getLogger(__name__)

# Chunks (~256 KB each) of a streamed clip buffered between the remuxing thread and the
# HTTP response: the thread waits when the client reads slowly.
STREAM_QUEUE_CHUNKS = 8


def delete_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class BufferReader:
    """Reads `index` of `camera`; every file read is pinned against eviction meanwhile."""

    def __init__(self, camera: str, index: SegmentIndex) -> None:
        self._camera = camera
        self.index = index
        self._arrival = asyncio.Condition()
        self._snapshot: tuple[Segment, bytes] | None = None

    @property
    def camera(self) -> str:
        return self._camera

    async def on_indexed(self) -> None:
        """The writer indexed a segment (and recorded it in the sidecar): wake `wait_until`."""
        async with self._arrival:
            self._arrival.notify_all()

    @contextlib.asynccontextmanager
    async def reading(self, start_ms: int, end_ms: int) -> AsyncIterator[list[Segment]]:
        """Segments covering [start_ms, end_ms), pinned against eviction while in the block."""
        segments = self.index.covering(start_ms, end_ms)
        async with self.pinned(segments):
            yield segments

    @contextlib.asynccontextmanager
    async def pinned(self, segments: Sequence[Segment]) -> AsyncIterator[None]:
        """Keep these segments' files while in the block, even if they are evicted meanwhile."""
        lease = self.index.pin(segments)
        try:
            yield
        finally:
            freed = self.index.release(lease)
            if freed:
                await asyncio.to_thread(delete_files, [s.path for s in freed])

    # -- reading: clips, segments, snapshots ---------------------------------------------------
    def recent(self, count: int | None) -> Sequence[Segment]:
        """The newest `count` segments (all with None), oldest first."""
        return self.index.segments if count is None else self.index.tail(count)

    def plan(self, start_ms: int, end_ms: int) -> ClipPlan | None:
        """The segments that cover [start_ms, end_ms) and the gaps among them (None: none)."""
        return plan_clip(self.camera, self.index.covering(start_ms, end_ms), self.index.gaps())

    async def assemble(self, plan: ClipPlan, fmt: ClipFormat, out: Path) -> Layout:
        """Write the clip to `out` (MP4 or ZIP), its segments pinned meanwhile; returns how to
        send it (an MP4 is sent moov first: faststart without rewriting the file)."""
        async with self.pinned(plan.segments):
            return await asyncio.to_thread(_assemble, plan, fmt, out)

    async def stream_fmp4(self, plan: ClipPlan) -> AsyncIterator[bytes]:
        """Fragmented MP4 of the plan, chunk by chunk as the remuxer writes it."""
        async with self.pinned(plan.segments):
            async for chunk in stream_from_thread(
                lambda sink: remux_mp4(plan.segments, sink, True), STREAM_QUEUE_CHUNKS
            ):
                yield chunk

    async def read_segment(self, seq: int) -> bytes | None:
        """One segment's bytes (an HLS segment is ~200 KB), or None if it is not held."""
        segment = self.index.by_seq(seq)
        if segment is None:
            return None
        async with self.pinned([segment]):
            try:
                return await asyncio.to_thread(segment.path.read_bytes)
            except OSError as exc:  # it is pinned: gone or unreadable is our failure
                raise ClipError(f"cannot read segment {seq}: {exc}") from exc

    async def snapshot(self) -> tuple[Segment, bytes] | None:
        """A JPEG of the newest segment's first frame (a keyframe); cached per segment. If the
        newest cannot be decoded or encoded, the one before it (a second older) is used."""
        candidates = list(reversed(self.index.tail(2)))
        if not candidates:
            return None
        cached = self._snapshot
        if cached is not None and cached[0] == candidates[0]:
            return cached
        async with self.pinned(candidates):
            for i, segment in enumerate(candidates):
                try:
                    jpeg = await asyncio.to_thread(keyframe_jpeg, segment.path)
                except ClipError:
                    if i == len(candidates) - 1:
                        raise
                    logger.warning(
                        "camera %s: snapshot of %d failed", self.camera, segment.seq, exc_info=True
                    )
                    continue
                self._snapshot = (segment, jpeg)
                return self._snapshot
        return None

    async def snapshot_at(self, at_ms: int) -> tuple[Segment, int, bytes] | None:
        """A JPEG of the frame shown at `at_ms`: (its segment, the frame's time, the JPEG);
        None if the buffer holds no video then."""
        covering = self.index.covering(at_ms, at_ms + 1)
        if not covering:
            return None
        segment = covering[0]
        async with self.pinned([segment]):
            offset, jpeg = await asyncio.to_thread(
                frame_jpeg, segment.path, max(at_ms - segment.start_ms, 0)
            )
        return segment, segment.start_ms + offset, jpeg

    async def wait_until(self, ms: int, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) until the buffer holds video up to `ms`; True if it does."""

        def covered() -> bool:
            newest = self.index.newest
            return newest is not None and newest.end_ms >= ms

        # asyncio.timeout, not wait_for, here and below: on Python 3.11 wait_for can return a
        # result and drop a cancellation that arrives meanwhile; a loop then never ends.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._arrival:
                await self._arrival.wait_for(covered)
        return covered()


def _assemble(plan: ClipPlan, fmt: ClipFormat, out: Path) -> Layout:
    if fmt == "zip":
        return Layout.whole(write_zip(plan.segments, out, f"{plan.key}.m3u8"))
    layout = concat_mp4(plan.segments, out)
    if layout is not None:
        return layout
    # A segment without a sample index (audio, another codec, an older sidecar): remux.
    logger.info("camera %s: clip %s is remuxed", plan.camera, plan.key)
    remux_mp4(plan.segments, out, fragmented=False)
    return faststart_layout(out)
