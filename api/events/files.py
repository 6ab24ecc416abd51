"""Saved event media on disk (snapshots and clips under the media directory): where each file
goes, atomic writes, removal, and leases that keep a file being downloaded from retention."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from api.events.model import EventRecord
from api.video.ports import LayoutView
from common.ids import CAMERA_ID_PATTERN

# <camera>/<YYYYMMDD>/<event id>.jpg|.mp4: the camera-id rule without its anchors.
_REL = re.compile("^" + CAMERA_ID_PATTERN.strip("^$") + r"/\d{8}/[0-9a-f-]{36}\.(jpg|mp4)$")
COPY_CHUNK = 1024 * 1024


class MediaFiles:
    """Owns `root`: `<camera>/<YYYYMMDD>/<event id>.jpg|.mp4`. Paths in the database are
    relative to it, so the directory can move."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._leases: Counter[str] = Counter()

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    @staticmethod
    def relative(event: EventRecord, ext: str) -> str:
        day = datetime.fromtimestamp(event.at_ms / 1000, UTC).strftime("%Y%m%d")
        return f"{event.camera}/{day}/{event.id}.{ext}"

    def path(self, rel: str) -> Path:
        """The file for a stored relative path; anything not of our own making is refused."""
        if not _REL.match(rel):
            raise ValueError(f"not a media path: {rel!r}")
        return self.root / rel

    async def write(self, rel: str, data: bytes) -> int:
        return await asyncio.to_thread(self._write, rel, [data])

    async def write_layout(self, rel: str, source: Path, layout: LayoutView) -> int:
        """Write an assembled clip in its served order (for an MP4: moov first)."""

        def pieces() -> Iterator[bytes]:
            with source.open("rb") as src:
                for piece in layout.pieces:
                    if piece.data is not None:
                        yield piece.data
                        continue
                    src.seek(piece.offset)
                    left = piece.length
                    while left > 0:
                        chunk = src.read(min(COPY_CHUNK, left))
                        if not chunk:
                            raise OSError(f"{source} ended {left} bytes early")
                        left -= len(chunk)
                        yield chunk

        return await asyncio.to_thread(self._write, rel, pieces())

    def _write(self, rel: str, chunks: Iterable[bytes]) -> int:
        final = self.path(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + ".part")
        size = 0
        try:
            with part.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                # Saved media outlives the buffer: on disk before the database says "ready".
                os.fsync(out.fileno())
            part.replace(final)
        finally:
            part.unlink(missing_ok=True)
        return size

    async def remove(self, rels: Iterable[str | None]) -> None:
        paths = [self.path(r) for r in rels if r]
        if paths:
            await asyncio.to_thread(_unlink_all, paths)

    def acquire(self, rel: str) -> None:
        """Held while a file is being sent (until `release`): retention leaves it alone."""
        self._leases[rel] += 1

    def release(self, rel: str) -> None:
        self._leases[rel] -= 1
        if self._leases[rel] <= 0:
            del self._leases[rel]

    def leased(self, rel: str | None) -> bool:
        return rel is not None and self._leases[rel] > 0


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
        # Drop the day folder once it is empty; a new event recreates it.
        with contextlib.suppress(OSError):
            path.parent.rmdir()
