"""Parsing and checking clip parameters: pure functions with messages that say what is allowed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from api.errors import BadRequest
from api.ports import ClipFormat

FORMATS: tuple[ClipFormat, ...] = ("mp4", "zip", "fmp4")


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int


def parse_format(value: str) -> ClipFormat:
    for fmt in FORMATS:
        if value == fmt:
            return fmt
    raise BadRequest("format", f"format must be one of {', '.join(FORMATS)}; got {value!r}")


def parse_seconds(value: str, buffer_seconds: int) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 1 <= seconds <= buffer_seconds:
        raise BadRequest(
            "seconds",
            f"seconds must be a number from 1 to {buffer_seconds} (the buffer length); "
            f"got {value!r}",
        )
    return seconds


def parse_instant(name: str, value: str) -> int:
    """UTC epoch milliseconds, or ISO-8601 with an offset (e.g. 2026-11-23T10:15:00Z)."""
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest(
            name,
            f"{name} must be UTC epoch milliseconds or ISO-8601 with an offset "
            f"(2026-11-23T10:15:00Z); got {value!r}",
        )
    return int(parsed.timestamp() * 1000)


def clip_range(
    seconds: str | None, start: str | None, end: str | None, now_ms: int, buffer_seconds: int
) -> TimeRange:
    """The requested [start_ms, end_ms): either the last `seconds`, or `start` and `end`."""
    if seconds is not None:
        if start is not None or end is not None:
            raise BadRequest("seconds", "give either seconds, or start and end; not both")
        length = parse_seconds(seconds, buffer_seconds)
        return TimeRange(now_ms - round(length * 1000), now_ms)
    if start is None or end is None:
        missing = "end" if start is not None else "start"
        raise BadRequest(missing, "give either seconds=N, or both start and end")
    start_ms, end_ms = parse_instant("start", start), parse_instant("end", end)
    if end_ms <= start_ms:
        raise BadRequest("end", f"end ({end_ms}) must be after start ({start_ms})")
    if end_ms - start_ms > buffer_seconds * 1000:
        raise BadRequest("end", f"a clip spans at most the buffer length ({buffer_seconds} s)")
    return TimeRange(start_ms, end_ms)
