"""Clip assembly policy: bounded concurrency with a bounded wait queue (then 503), one
assembly shared by identical concurrent requests, and a short-lived cache on tmpfs that
serves repeats and range requests without assembling again."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.errors import ClipsBusy
from api.video import cachedir
from api.video.ports import CameraBuffer, ClipPlanView, LayoutView
from common.media import ClipFormat

logger = logging.getLogger(__name__)

# A clip just handed to a response is kept this long whatever the TTL or byte cap: the
# response opens it a moment later (an open file survives pruning; an unopened one not).
FRESH_S = 5.0


@dataclass(frozen=True, slots=True)
class CachedClip:
    path: Path
    layout: LayoutView
    etag: str
    created: float

    @property
    def size(self) -> int:
        return self.layout.size


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
            self._admit()
            task = asyncio.create_task(self._assemble(buffer, plan, fmt, key))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        # Shielded: one client going away must not cancel the assembly others wait for.
        return await asyncio.shield(task)

    def stream(self, buffer: CameraBuffer[Any], plan: ClipPlanView) -> AsyncIterator[bytes]:
        """Fragmented MP4 streamed as it is made; holds an assembly slot while streaming.
        Admission is decided now, before the response starts (ClipsBusy -> 503)."""
        self._admit()
        return self._stream(buffer, plan)

    async def _stream(self, buffer: CameraBuffer[Any], plan: ClipPlanView) -> AsyncIterator[bytes]:
        async with self._slot():
            async for chunk in buffer.stream_fmp4(plan):
                yield chunk

    def _admit(self) -> None:
        if self._running >= self._concurrency and self._waiting >= self._queue_limit:
            raise ClipsBusy(retry_after_s=1 + self._waiting // max(self._concurrency, 1))

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
        self, buffer: CameraBuffer[Any], plan: ClipPlanView, fmt: ClipFormat, key: str
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
        self._cache[key] = clip
        self._prune()
        return clip

    def _prune(self) -> None:
        """Drop expired entries, then the oldest while over the byte cap. A response that is
        sending a dropped file keeps its open descriptor, so nothing is cut short."""
        now = time.monotonic()
        entries = sorted(self._cache.items(), key=lambda kv: kv[1].created)
        total = sum(c.size for _, c in entries)
        for key, clip in entries:
            if now - clip.created <= self._ttl_s and total <= self._max_bytes:
                break
            if now - clip.created < self._fresh_s:
                break  # this one and every newer one may still be about to be opened
            total -= clip.size
            del self._cache[key]
            clip.path.unlink(missing_ok=True)
