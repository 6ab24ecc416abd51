"""Placing segments on the wall clock: contiguous within a session, re-anchored on drift."""

from __future__ import annotations

from pathlib import Path

from segmenter.model import ListEntry, Segment
from segmenter.placement import DRIFT_LIMIT_MS, place

T0 = 1_800_000_000_000


def prev(end: int, session: int = 1) -> Segment:
    return Segment("front", 1, session, end - 1000, end, 1, Path("p"), True)


def test_first_segment_ends_at_arrival() -> None:
    assert place(None, 1, ListEntry("seq-000000000.ts", 0.0, 1.0), T0) == T0 - 1000


def test_same_session_is_laid_end_to_end_despite_jitter() -> None:
    entry = ListEntry("seq-000000002.ts", 1.0, 2.0)
    assert place(prev(T0), 1, entry, T0 + 1000 + 180) == T0
    assert place(prev(T0), 1, entry, T0 + 1000 - 240) == T0


def test_drift_beyond_the_limit_reanchors() -> None:
    entry = ListEntry("seq-000000002.ts", 1.0, 2.0)
    late = T0 + 1000 + DRIFT_LIMIT_MS + 500
    assert place(prev(T0), 1, entry, late) == late - 1000


def test_new_session_starts_at_arrival_never_before_held_footage() -> None:
    entry = ListEntry("seq-000000005.ts", 0.0, 1.0)
    assert place(prev(T0), 2, entry, T0 + 30_000) == T0 + 29_000
    # A clock that went backwards cannot make footage overlap.
    assert place(prev(T0), 2, entry, T0 - 5000) == T0
