"""Parsing and checking query parameters (clip ranges and formats, instants, event filters):
pure functions whose errors name the parameter and say what is allowed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from api.errors import BadRequest
from common.clock import MAX_EPOCH_MS
from common.events import EVENT_KINDS, EventKind
from common.ids import CAMERA_ID_PATTERN, is_camera_id
from common.media import CLIP_FORMATS, ClipFormat, clip_format


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int


def parse_format(value: str) -> ClipFormat:
    fmt = clip_format(value)
    if fmt is None:
        raise BadRequest(
            "format",
            f"format must be one of {', '.join(CLIP_FORMATS)}; got {value!r}",
            allowed=CLIP_FORMATS,
        )
    return fmt


def parse_kinds(values: list[str] | None) -> list[EventKind] | None:
    """Event kinds from repeated and/or comma-separated values; None: no filter."""
    if not values:
        return None
    kinds: list[EventKind] = []
    for value in (v for item in values for v in item.split(",") if v):
        kind = next((k for k in EVENT_KINDS if k == value), None)
        if kind is None:
            raise BadRequest(
                "kind",
                f"kind must be one of {', '.join(EVENT_KINDS)}; got {value!r}",
                allowed=EVENT_KINDS,
            )
        kinds.append(kind)
    return kinds


def check_camera_filter(value: str | None) -> str | None:
    """A camera id to filter by (one that is not configured simply matches nothing)."""
    if value is not None and not is_camera_id(value):
        raise BadRequest("camera", f"camera must match {CAMERA_ID_PATTERN}; got {value!r}")
    return value


# Longer than any sequence number a buffer reaches (one a second), short of a huge int.
MAX_SEQUENCE_DIGITS = 12
# Longer than any instant written in ISO-8601 (with nanoseconds and an offset).
MAX_INSTANT_CHARS = 40
# Longer than any sensible number of seconds ("900", "2.5", "1e2").
MAX_SECONDS_CHARS = 16


def is_decimal(value: str, max_digits: int) -> bool:
    """True for 1 to `max_digits` ASCII digits and nothing else. (`str.isdigit` also takes
    "²" and "٣", which `int` refuses or reads; and `int` refuses more than 4,300 digits.)"""
    return 0 < len(value) <= max_digits and value.isascii() and value.isdigit()


def parse_sequence(name: str, value: str) -> int:
    """A non-negative decimal integer (a segment or part number): ASCII digits only."""
    if not is_decimal(value, MAX_SEQUENCE_DIGITS):
        raise BadRequest(
            name,
            f"{name} must be a non-negative integer of at most {MAX_SEQUENCE_DIGITS} digits; "
            f"got {value[:40]!r}",
        )
    return int(value)


def parse_seconds(value: str, buffer_seconds: int) -> float:
    try:
        seconds = float(value) if len(value) <= MAX_SECONDS_CHARS else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 1 <= seconds <= buffer_seconds:
        raise BadRequest(
            "seconds",
            f"seconds must be a number from 1 to {buffer_seconds} (the buffer length); "
            f"got {value[:40]!r}",
        )
    return seconds


def _iso_ms(value: str) -> int | None:
    """ISO-8601 with an offset as epoch ms; None if it is not that."""
    if len(value) > MAX_INSTANT_CHARS:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return None if parsed.tzinfo is None else int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError):
        return None


def parse_instant(name: str, value: str) -> int:
    """UTC epoch milliseconds (ASCII digits), or ISO-8601 with an offset (e.g.
    2026-11-23T10:15:00Z), from 1970 to the end of year 9999."""
    if value.isdigit():  # any script's digits: refused below unless they are ASCII
        at_ms = int(value) if is_decimal(value, len(str(MAX_EPOCH_MS))) else None
    else:
        at_ms = _iso_ms(value)
    if at_ms is None or not 0 <= at_ms <= MAX_EPOCH_MS:
        raise BadRequest(
            name,
            f"{name} must be UTC epoch milliseconds (ASCII digits, 0 to {MAX_EPOCH_MS}) or "
            f"ISO-8601 with an offset (2026-11-23T10:15:00Z) from 1970 to 9999; "
            f"got {value[:40]!r}",
        )
    return at_ms


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
