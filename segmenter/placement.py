"""Placing a finished segment on the wall clock (UTC epoch ms).

ffmpeg reports each segment's stream time; the wall clock comes from when its list line
arrives. Within one publisher session the stream clock is smooth and arrival times jitter by
tens of ms, so segments are laid end to end from the first one's arrival and re-anchored only
when the two clocks drift apart by more than `DRIFT_LIMIT_MS` (a stall, a stream-time jump).
"""

from __future__ import annotations

from segmenter.model import ListEntry, Segment

DRIFT_LIMIT_MS = 1000


def place(previous: Segment | None, session: int, entry: ListEntry, arrival_ms: int) -> int:
    """Start (UTC epoch ms) of the segment `entry` that ffmpeg finished at `arrival_ms`.

    `previous` is the newest indexed segment of this camera, of any session.
    """
    by_arrival = arrival_ms - entry.duration_ms
    if previous is None:
        return by_arrival
    if previous.session != session:
        # A new publisher: anchor on arrival, never before the footage we already hold.
        return max(by_arrival, previous.end_ms)
    contiguous = previous.end_ms
    if abs(contiguous - by_arrival) > DRIFT_LIMIT_MS:
        return max(by_arrival, previous.end_ms)
    return contiguous
