"""Clip assembly policy: bounded concurrency with a bounded wait queue (then 503), one
assembly shared by identical concurrent requests, and a short-lived cache on tmpfs that
serves repeats and range requests without assembling again.

Both bounds are held at admission, before any await: a request is counted against the
slots and queue places, and its expected bytes reserved in the cache, in the same step that
checks them, so requests arriving together can never overshoot either."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.errors import BadRequest, ClipCacheFull, ClipsBusy, DoorbellError
from api.video import cachedir
from api.video.ports import CameraBuffer, ClipPlanView, LayoutView
from common.media import ClipFormat

logger = logging.getLogger(__name__)

# A clip just handed to a response is kept this long whatever the TTL or byte cap: the
# response opens it a moment later (an open file survives pruning; an unopened one not).
FRESH_S = 5.0
# An assembled file may be a little larger than the segments it is cut from (an MP4's moov,
# a ZIP's headers and playlist): the reservation allows this much more.
OVERHEAD_FRACTION = 1 / 16
OVERHEAD_BYTES = 64 * 1024


def expected_bytes(source_bytes: int) -> int:
    """The cache space reserved for a clip cut from `source_bytes` of segments."""
    return source_bytes + math.ceil(source_bytes * OVERHEAD_FRACTION) + OVERHEAD_BYTES


@dataclass(frozen=True, slots=True)
class CachedClip:
    path: Path
    layout: LayoutView
    etag: str
    created: float

    @property
    def size(self) -> int:
        return self.layout.size


@dataclass(slots=True)
class _Reservation:
    """Bytes held in the cache for one assembly until its clip is cached (or it fails)."""

    size: int
    held: bool = True


@dataclass(frozen=True, slots=True)
class AdmittedStream:
    """A streamed clip admitted against the slots: its chunks, and how to give the
    admission back (idempotent) once the response is done."""

    chunks: AsyncIterator[bytes]
    release: Callable[[], None]


class ClipService:
    """Owns the clip cache directory and the assembly slots."""

    def __init__(
        self,
        cache_dir: Path,
        concurrency: int,
        queue: int,
        ttl_s: int,
        max_bytes: int,
        on_assembled: Callable[[float], None] | None = None,
        fresh_s: float = FRESH_S,
    ) -> None:
        self._dir = cache_dir
        self._fresh_s = fresh_s
        self._on_assembled = on_assembled
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency, self._queue_limit = concurrency, queue
        self._ttl_s, self._max_bytes = ttl_s, max_bytes
        self._running = 0
        self._waiting = 0
        self._admitted = 0  # running + waiting, counted at admission
        self._reserved = 0  # bytes reserved for admitted assemblies not yet in the cache
        self._inflight: dict[str, asyncio.Task[CachedClip]] = {}
        self._cache: dict[str, CachedClip] = {}
        self.assemblies = 0
        self.peak_running = 0

    async def start(self) -> None:
        """Start with no stale clips of an earlier run; only the cache's own files go
        (`api.video.cachedir`: a directory holding anything else is refused)."""
        self._dir = await asyncio.to_thread(cachedir.open_cache_dir, self._dir)

    async def aclose(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        await asyncio.to_thread(cachedir.sweep_cache_dir, self._dir)

    def stats(self) -> dict[str, int]:
        return {
            "running": self._running,
            "waiting": self._waiting,
            "cached": len(self._cache),
            "cached_bytes": self._cached_bytes(),
            "reserved_bytes": self._reserved,
            "assemblies": self.assemblies,
            "peak_running": self.peak_running,
        }

    async def assembled(
        self, buffer: CameraBuffer[Any], plan: ClipPlanView, fmt: ClipFormat
    ) -> CachedClip:
        """The assembled clip (MP4 or ZIP) as a file, from the cache when it is there."""
        key = f"{plan.key}.{fmt}"
        self._prune()
        hit = self._cache.get(key)
        if hit is not None and hit.path.exists():
            return hit
        task = self._inflight.get(key)
        if task is None:
            task = self._start_assembly(buffer, plan, fmt, key)
        # Shielded: one client going away must not cancel the assembly others wait for.
        return await asyncio.shield(task)

    def stream(self, buffer: CameraBuffer[Any], plan: ClipPlanView) -> AdmittedStream:
        """Fragmented MP4 streamed as it is made (never cached); holds an assembly slot while
        streaming. Admission is decided now, before the response starts (ClipsBusy -> 503);
        the caller gives it back with `release` once the response is done (the stream's own
        end gives it back too)."""
        self._admit()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._admitted -= 1

        return AdmittedStream(self._stream(buffer, plan, release), release)

    async def _stream(
        self, buffer: CameraBuffer[Any], plan: ClipPlanView, release: Callable[[], None]
    ) -> AsyncIterator[bytes]:
        try:
            async with self._slot():
                async for chunk in buffer.stream_fmp4(plan):
                    yield chunk
        finally:
            release()

    def _start_assembly(
        self, buffer: CameraBuffer[Any], plan: ClipPlanView, fmt: ClipFormat, key: str
    ) -> asyncio.Task[CachedClip]:
        """Admit (a slot or queue place, and the clip's bytes in the cache) and start; what
        was taken is given back when the task ends, however it ends (even cancelled before
        it ran, when its own `finally` would not)."""
        self._admit()
        try:
            reservation = _Reservation(self._room_for(expected_bytes(plan.source_bytes)))
        except DoorbellError:
            self._admitted -= 1
            raise
        self._reserved += reservation.size
        task = asyncio.create_task(self._assemble(buffer, plan, fmt, key, reservation))
        self._inflight[key] = task

        def done(_task: asyncio.Task[CachedClip]) -> None:
            self._inflight.pop(key, None)
            self._admitted -= 1
            self._release(reservation)

        task.add_done_callback(done)
        return task

    def _release(self, reservation: _Reservation) -> None:
        if reservation.held:
            reservation.held = False
            self._reserved -= reservation.size

    def _admit(self) -> None:
        if self._admitted >= self._concurrency + self._queue_limit:
            raise ClipsBusy(retry_after_s=1 + self._waiting // max(self._concurrency, 1))
        self._admitted += 1

    def _room_for(self, reserve: int) -> int:
        """`reserve` once the cache can hold it beside what it holds and what is reserved
        (the oldest entries that may go, gone); ClipCacheFull when it cannot yet, and a
        BadRequest when it never can."""
        if reserve > self._max_bytes:
            raise BadRequest(
                "format",
                f"this clip needs about {reserve} bytes in the clip cache, more than "
                f"clip_cache_max_bytes ({self._max_bytes}): ask for a shorter clip, or for "
                "format=fmp4, which is streamed as it is made and needs no cache",
                allowed=["fmp4"],
            )
        self._prune(room_for=reserve)
        if self._cached_bytes() + self._reserved + reserve > self._max_bytes:
            raise ClipCacheFull(retry_after_s=self._retry_after_s())
        return reserve

    def _retry_after_s(self) -> int:
        """When cached entries become prunable: the oldest one's freshness ends then (space
        reserved by assemblies under way turns into fresh entries first)."""
        now = time.monotonic()
        oldest = min((c.created for c in self._cache.values()), default=None)
        if oldest is None:
            return max(1, math.ceil(self._fresh_s)) + 1
        return max(1, math.ceil(self._fresh_s - (now - oldest)))

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._running += 1
        self.peak_running = max(self.peak_running, self._running)
        self.assemblies += 1
        try:
            yield
        finally:
            self._running -= 1
            self._slots.release()

    async def _assemble(
        self,
        buffer: CameraBuffer[Any],
        plan: ClipPlanView,
        fmt: ClipFormat,
        key: str,
        reservation: _Reservation,
    ) -> CachedClip:
        async with self._slot():
            part = self._dir / cachedir.file_name(key, part=True)
            final = self._dir / cachedir.file_name(key)
            started = time.monotonic()
            try:
                layout = await buffer.assemble(plan, fmt, part)
                await asyncio.to_thread(part.replace, final)
            finally:
                await asyncio.to_thread(part.unlink, True)
            if self._on_assembled is not None:
                self._on_assembled(time.monotonic() - started)
        digest = hashlib.sha256(f"{key}:{layout.size}".encode()).hexdigest()[:16]
        clip = CachedClip(final, layout, f'"{digest}"', time.monotonic())
        self._release(reservation)  # in the same step, the clip's real size counts instead
        self._cache[key] = clip
        self._prune()
        return clip

    def _cached_bytes(self) -> int:
        return sum(c.size for c in self._cache.values())

    def _prune(self, room_for: int = 0) -> None:
        """Drop expired entries, then the oldest while the cache, with the bytes reserved
        and `room_for` more, is over the cap. A response that is sending a dropped file
        keeps its open descriptor, so nothing is cut short."""
        now = time.monotonic()
        entries = sorted(self._cache.items(), key=lambda kv: kv[1].created)
        total = sum(c.size for _, c in entries) + self._reserved + room_for
        for key, clip in entries:
            if now - clip.created <= self._ttl_s and total <= self._max_bytes:
                break
            if now - clip.created < self._fresh_s:
                break  # this one and every newer one may still be about to be opened
            total -= clip.size
            del self._cache[key]
            clip.path.unlink(missing_ok=True)
