"""Placing segments on the wall clock: contiguous within a session, re-anchored on long lags."""

from __future__ import annotations

from pathlib import Path

from segmenter.model import ListEntry, Segment
from segmenter.placement import REANCHOR_LAG_MS, place

T0 = 1_800_000_000_000


def prev(end: int, session: int = 1) -> Segment:
    return Segment("front", 1, session, end - 1000, end, 1, Path("p"), True)


def test_first_segment_ends_at_arrival() -> None:
    assert place(None, 1, ListEntry("seq-000000000.ts", 0.0, 1.0), T0) == T0 - 1000


def test_same_session_is_laid_end_to_end_despite_jitter() -> None:
    entry = ListEntry("seq-000000002.ts", 1.0, 2.0)
    assert place(prev(T0), 1, entry, T0 + 1000 + 180) == T0
    assert place(prev(T0), 1, entry, T0 + 1000 - 240) == T0


def test_a_backlog_after_a_stall_keeps_stream_time() -> None:
    entry = ListEntry("seq-000000002.ts", 1.0, 2.0)
    # Arrived 6 s late in a burst: it was still captured right after the previous one.
    assert place(prev(T0), 1, entry, T0 + 1000 + 6000) == T0


def test_a_long_lag_reanchors_on_arrival() -> None:
    entry = ListEntry("seq-000000002.ts", 1.0, 2.0)
    late = T0 + 1000 + REANCHOR_LAG_MS + 500
    assert place(prev(T0), 1, entry, late) == late - 1000


def test_new_session_starts_at_arrival_never_before_held_footage() -> None:
    entry = ListEntry("seq-000000005.ts", 0.0, 1.0)
    assert place(prev(T0), 2, entry, T0 + 30_000) == T0 + 29_000
    # A clock that went backwards cannot make footage overlap.
    assert place(prev(T0), 2, entry, T0 - 5000) == T0
