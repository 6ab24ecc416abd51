"""Placing a finished segment on the wall clock (UTC epoch ms).

ffmpeg reports each segment's stream time; the wall clock comes from when its list line
arrives. Within one publisher session the stream clock is smooth while arrivals jitter, and
after a network stall a backlog arrives in a burst, so segments are laid end to end from the
session's first arrival. Only when arrivals lag the stream clock by more than `REANCHOR_LAG_MS`
(a long outage that lost data, or clock drift accumulated over days) is a segment re-anchored
on its arrival. Nothing is placed before the footage already held.
"""

from __future__ import annotations

from segmenter.model import ListEntry, Segment

REANCHOR_LAG_MS = 10_000


def place(previous: Segment | None, session: int, entry: ListEntry, arrival_ms: int) -> int:
    """Start (UTC epoch ms) of the segment `entry` that ffmpeg finished at `arrival_ms`.

    `previous` is the newest indexed segment of this camera, of any session.
    """
    by_arrival = arrival_ms - entry.duration_ms
    if previous is None:
        return by_arrival
    if previous.session != session or by_arrival - previous.end_ms > REANCHOR_LAG_MS:
        return max(by_arrival, previous.end_ms)
    return previous.end_ms
