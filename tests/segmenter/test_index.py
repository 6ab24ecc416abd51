"""SegmentIndex: ordering, coverage, exact age and byte eviction, pins, gaps (fake clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmenter.errors import IndexOrderError
from segmenter.index import SegmentIndex
from segmenter.model import Gap, Segment

T0 = 1_800_000_000_000


def seg(seq: int, start: int, dur: int = 1000, size: int = 100, session: int = 1) -> Segment:
    return Segment("front", seq, session, start, start + dur, size, Path(f"seq-{seq:09d}.ts"), True)


def filled(n: int, buffer_ms: int = 10_000, max_bytes: int = 10**9) -> SegmentIndex:
    index = SegmentIndex("front", buffer_ms, max_bytes)
    for i in range(n):
        index.add(seg(i, T0 + i * 1000))
    return index


def test_add_keeps_order_and_refuses_going_back() -> None:
    index = filled(3)
    with pytest.raises(IndexOrderError):
        index.add(seg(2, T0 + 5000))
    with pytest.raises(IndexOrderError):
        index.add(seg(7, T0 + 1000))
    with pytest.raises(IndexOrderError):
        index.add(Segment("back", 9, 1, T0 + 9000, T0 + 10_000, 1, Path("x"), True))
    assert [s.seq for s in index.segments] == [0, 1, 2]


def test_covering_returns_overlapping_segments_only() -> None:
    index = filled(10)
    assert [s.seq for s in index.covering(T0 + 2500, T0 + 4500)] == [2, 3, 4]
    assert [s.seq for s in index.covering(T0 + 2000, T0 + 3000)] == [2]
    assert [s.seq for s in index.covering(T0 - 5000, T0 + 1)] == [0]
    assert index.covering(T0 + 20_000, T0 + 30_000) == []
    assert index.covering(T0 + 3000, T0 + 3000) == []


def test_evicts_exactly_by_age() -> None:
    index = filled(20, buffer_ms=10_000)
    now = T0 + 20_000
    gone = index.evict(now)
    # Starts older than now - 10 s go; the rest span exactly the buffer.
    assert [s.seq for s in gone] == list(range(10))
    assert index.oldest is not None
    assert index.oldest.start_ms == now - 10_000
    assert index.total_ms == 10_000
    assert [s.seq for s in index.tail(2)] == [18, 19]
    assert index.tail(0) == ()
    assert index.evict(now) == []
    assert index.next_expiry_ms() == now + 1
    assert [s.seq for s in index.evict(now + 1)] == [10]


def test_evicts_oldest_beyond_byte_cap_independently_of_age() -> None:
    index = filled(10, buffer_ms=3_600_000, max_bytes=350)
    gone = index.evict(T0 + 10_000)
    assert [s.seq for s in gone] == list(range(7))
    assert index.total_bytes == 300


def test_pinned_segments_leave_the_index_but_keep_their_files_until_released() -> None:
    index = filled(5, buffer_ms=10_000)
    lease = index.pin(index.covering(T0, T0 + 2000))
    other = index.pin(index.covering(T0 + 1000, T0 + 2000))
    gone = index.evict(T0 + 12_500)
    assert [s.seq for s in gone] == [2]  # 0 and 1 are pinned
    assert [s.seq for s in index.segments] == [3, 4]
    assert index.pinned == 2
    assert [s.seq for s in index.release(lease)] == [0]  # 1 still held by `other`
    assert [s.seq for s in index.release(other)] == [1]
    assert index.pinned == 0


def test_release_of_a_live_segment_frees_nothing() -> None:
    index = filled(3)
    lease = index.pin(index.segments)
    assert index.release(lease) == []
    assert len(index) == 3


def test_gaps_between_sessions_and_time_jumps() -> None:
    index = SegmentIndex("front", 60_000, 10**9)
    index.add(seg(0, T0))
    index.add(seg(1, T0 + 1000))
    index.add(seg(2, T0 + 9000, session=2))
    index.add(seg(3, T0 + 10_000, session=2))
    index.add(seg(4, T0 + 15_000, session=2))
    assert index.gaps() == [Gap(T0 + 2000, T0 + 9000), Gap(T0 + 11_000, T0 + 15_000)]


def test_by_seq_survives_skipped_numbers() -> None:
    index = SegmentIndex("front", 60_000, 10**9)
    for seq, start in [(3, T0), (4, T0 + 1000), (9, T0 + 2000)]:
        index.add(seg(seq, start))
    assert index.by_seq(9) is not None
    assert index.by_seq(4) is not None
    assert index.by_seq(5) is None
    assert SegmentIndex("front", 1, 1).by_seq(0) is None


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="positive"):
        SegmentIndex("front", 0, 1)
