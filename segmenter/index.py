"""The in-memory index of one camera's rolling buffer: ordering, coverage, eviction, pins.

Pure: no I/O and no clock of its own. Callers pass `now_ms` and delete the files of the
segments that `evict()` and `release()` hand back, so every decision is testable on a
fake clock.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from segmenter.errors import IndexOrderError
from segmenter.model import Gap, Segment

# Two segments of one publisher session further apart than this are reported as a gap.
# Real segment boundaries are contiguous by construction (see placement.py); this only absorbs
# rounding of millisecond durations.
GAP_TOLERANCE_MS = 50


@dataclass(frozen=True, slots=True)
class Lease:
    """Proof that a reader pinned these segments; hand it back to `SegmentIndex.release`."""

    segments: tuple[Segment, ...]


class SegmentIndex:
    """Segments of one camera in sequence order, with exact age and byte eviction.

    A segment expires when its start is older than `buffer_ms` before `now_ms`, so the index
    never spans more than the buffer length. Independently, the oldest segments go while the
    indexed bytes exceed `max_bytes`. An evicted segment that a reader has pinned leaves the
    index at once (no new reader can find it) but its file is handed back for deletion only
    when the last pin on it is released.
    """

    def __init__(self, camera: str, buffer_ms: int, max_bytes: int) -> None:
        if buffer_ms <= 0 or max_bytes <= 0:
            raise ValueError("buffer_ms and max_bytes must be positive")
        self.camera = camera
        self.buffer_ms = buffer_ms
        self.max_bytes = max_bytes
        self._segments: list[Segment] = []
        self._starts: list[int] = []
        self._bytes = 0
        self._ms = 0
        self._pins: Counter[int] = Counter()
        self._doomed: dict[int, Segment] = {}

    # -- reading -------------------------------------------------------------------------
    @property
    def segments(self) -> Sequence[Segment]:
        return tuple(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    @property
    def total_ms(self) -> int:
        """Milliseconds of video held (gaps excluded)."""
        return self._ms

    def tail(self, count: int) -> Sequence[Segment]:
        """The newest `count` segments, oldest first."""
        return tuple(self._segments[-count:]) if count > 0 else ()

    @property
    def oldest(self) -> Segment | None:
        return self._segments[0] if self._segments else None

    @property
    def newest(self) -> Segment | None:
        return self._segments[-1] if self._segments else None

    def by_seq(self, seq: int) -> Segment | None:
        """The indexed segment with this sequence number, or None."""
        if not self._segments:
            return None
        i = seq - self._segments[0].seq
        # Sequence numbers are strictly increasing but may skip (dropped partial files).
        if 0 <= i < len(self._segments) and self._segments[i].seq == seq:
            return self._segments[i]
        for segment in self._segments:
            if segment.seq == seq:
                return segment
        return None

    def covering(self, start_ms: int, end_ms: int) -> list[Segment]:
        """Segments that overlap [start_ms, end_ms), oldest first."""
        if end_ms <= start_ms:
            return []
        # The first candidate is the last segment starting at or before start_ms.
        i = max(bisect.bisect_right(self._starts, start_ms) - 1, 0)
        out = []
        for segment in self._segments[i:]:
            if segment.start_ms >= end_ms:
                break
            if segment.end_ms > start_ms:
                out.append(segment)
        return out

    def gaps(self) -> list[Gap]:
        """Stretches inside the buffer with no video: a new session or a jump in time."""
        out = []
        for prev, cur in itertools.pairwise(self._segments):
            if cur.session != prev.session or cur.start_ms - prev.end_ms > GAP_TOLERANCE_MS:
                out.append(Gap(prev.end_ms, max(cur.start_ms, prev.end_ms)))
        return out

    def next_expiry_ms(self) -> int | None:
        """The first `now_ms` at which `evict` drops the oldest segment by age (None: empty)."""
        return self._segments[0].start_ms + self.buffer_ms + 1 if self._segments else None

    # -- writing -------------------------------------------------------------------------
    def add(self, segment: Segment) -> None:
        """Append the newest segment; sequence and start must move forward."""
        if segment.camera != self.camera:
            raise IndexOrderError(f"segment of {segment.camera!r} added to {self.camera!r}")
        if self._segments:
            last = self._segments[-1]
            if segment.seq <= last.seq or segment.start_ms < last.start_ms:
                raise IndexOrderError(
                    f"segment {segment.seq}@{segment.start_ms} "
                    f"is not after {last.seq}@{last.start_ms}"
                )
        self._segments.append(segment)
        self._starts.append(segment.start_ms)
        self._bytes += segment.size
        self._ms += segment.duration_ms

    def evict(self, now_ms: int) -> list[Segment]:
        """Drop expired and over-cap segments; return those whose files may be deleted now."""
        horizon = now_ms - self.buffer_ms
        n = 0
        total = self._bytes
        for segment in self._segments:
            if segment.start_ms < horizon or total > self.max_bytes:
                total -= segment.size
                n += 1
            else:
                break
        if n == 0:
            return []
        gone, self._segments, self._starts = (
            self._segments[:n],
            self._segments[n:],
            self._starts[n:],
        )
        self._bytes = total
        self._ms -= sum(s.duration_ms for s in gone)
        deletable = []
        for segment in gone:
            if self._pins[segment.seq]:
                self._doomed[segment.seq] = segment
            else:
                deletable.append(segment)
        return deletable

    def pin(self, segments: Iterable[Segment]) -> Lease:
        """Keep these segments' files until the lease is released, even if evicted."""
        lease = Lease(tuple(segments))
        for segment in lease.segments:
            self._pins[segment.seq] += 1
        return lease

    def release(self, lease: Lease) -> list[Segment]:
        """End a pin; return evicted segments that no reader holds any more."""
        deletable = []
        for segment in lease.segments:
            self._pins[segment.seq] -= 1
            if self._pins[segment.seq] <= 0:
                del self._pins[segment.seq]
                doomed = self._doomed.pop(segment.seq, None)
                if doomed is not None:
                    deletable.append(doomed)
        return deletable

    @property
    def pinned(self) -> int:
        """How many distinct segments readers hold right now."""
        return len(self._pins)
