"""HTTP byte ranges over assembled clips: 200 with Content-Length, 206 for one range, 416
beyond the end. A clip is a layout of pieces: of its file, or in memory (a patched moov).

The file is opened before the response starts, so a cache clean-up that unlinks it meanwhile
cannot cut the response short.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from api.errors import RangeNotSatisfiable
from api.video.ports import LayoutView, PieceView

# Large reads: each is one hop to a worker thread (a 900-s clip is ~170 MB).
CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# Positions past any file (a byte count of 18 digits is an exabyte): longer numbers are read
# as this, not handed to `int` (which refuses more than 4,300 digits).
MAX_POSITION_DIGITS = 18
BEYOND_ANY_FILE = 10**MAX_POSITION_DIGITS


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_POSITION_DIGITS else BEYOND_ANY_FILE


@dataclass(frozen=True, slots=True)
class FilePiece:
    offset: int
    length: int
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class WholeFile:
    """The layout of a file sent as it is on disk."""

    size: int

    @property
    def pieces(self) -> Sequence[PieceView]:
        return (FilePiece(0, self.size),)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a `Range` header asks for, or None for the whole file.

    Several ranges, or units other than bytes, are answered with the whole file (allowed by
    RFC 9110). A well-formed range that starts past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = _position(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(header, size)
        return max(size - length, 0), size - 1
    start = _position(first)
    end = size - 1 if last == "" else min(_position(last), size - 1)
    if start >= size or (last != "" and _position(last) < start):
        raise RangeNotSatisfiable(header, size)
    return start, end


def _spans(pieces: Sequence[PieceView], start: int, end: int) -> Iterator[PieceView]:
    """The parts of the layout's pieces that fall in bytes start..end (inclusive), in order:
    slices of in-memory pieces, (offset, length) of file pieces."""
    at = 0  # where the current piece starts in the layout
    for piece in pieces:
        lo, hi = max(start, at), min(end, at + piece.length - 1)
        if lo <= hi:
            if piece.data is not None:
                yield FilePiece(0, hi - lo + 1, piece.data[lo - at : hi - at + 1])
            else:
                yield FilePiece(piece.offset + lo - at, hi - lo + 1)
        at += piece.length
        if at > end:
            return


async def _read_span(
    fd: int,
    pieces: Sequence[PieceView],
    start: int,
    end: int,
    on_close: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """Bytes start..end (inclusive) of the layout: pieces in memory are sliced, pieces of the
    file are read in CHUNK-sized reads in a worker thread."""
    try:
        for span in _spans(pieces, start, end):
            if span.data is not None:
                yield span.data
                continue
            position, stop = span.offset, span.offset + span.length
            while position < stop:
                chunk = await asyncio.to_thread(os.pread, fd, min(CHUNK, stop - position), position)
                if not chunk:
                    return
                position += len(chunk)
                yield chunk
    finally:
        os.close(fd)
        if on_close is not None:
            on_close()


async def file_response(
    request: Request,
    path: Path,
    layout: LayoutView,
    media_type: str,
    headers: dict[str, str],
    etag: str,
    on_close: Callable[[], None] | None = None,
) -> Response:
    """Serve `layout` (pieces of `path` and of memory) honouring `Range` and `If-Range`.
    `on_close` is called once the response is done with the file (sent, cut or refused)."""
    size = layout.size
    base = {**headers, "Accept-Ranges": "bytes", "ETag": etag}
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range != etag:
        header = None
    try:
        span = parse_range(header, size)
        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    except (RangeNotSatisfiable, OSError):
        if on_close is not None:
            on_close()
        raise
    if span is None:
        return StreamingResponse(
            _read_span(fd, layout.pieces, 0, size - 1, on_close),
            media_type=media_type,
            headers={**base, "Content-Length": str(size)},
        )
    start, end = span
    return StreamingResponse(
        _read_span(fd, layout.pieces, start, end, on_close),
        status_code=206,
        media_type=media_type,
        headers={
            **base,
            "Content-Length": str(end - start + 1),
            "Content-Range": f"bytes {start}-{end}/{size}",
        },
    )
