"""Value types of the rolling buffer: segments, gaps, list entries and per-camera stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: this module stays a leaf at run time
    from segmenter.formats.samples import SegmentSamples


@dataclass(frozen=True, slots=True)
class Segment:
    """One finished 1-s MPEG-TS file of one camera, placed on the wall clock (UTC epoch ms)."""

    camera: str
    seq: int
    session: int
    start_ms: int
    end_ms: int
    size: int
    path: Path
    keyframe_start: bool
    # Where the file's H.264 samples are, indexed once at ingest so clips are concatenated
    # rather than remuxed; None if not indexed (yet) or not indexable (audio, not H.264).
    samples: SegmentSamples | None = field(default=None, compare=False, repr=False)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch inside the buffer with no video (publisher down), between two segments."""

    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of ffmpeg's CSV segment list: file name and stream time in seconds."""

    filename: str
    start_s: float
    end_s: float

    @property
    def duration_ms(self) -> int:
        return round((self.end_s - self.start_s) * 1000)


@dataclass(frozen=True, slots=True)
class SegmenterStats:
    """A snapshot of one camera's buffer and segmenter loop, for /healthz and /api/v1/cameras."""

    camera: str
    state: str
    segments: int
    seconds: float
    bytes: int
    oldest_ms: int | None
    newest_ms: int | None
    last_segment_age_ms: int | None
    sessions: int
    restarts: int
    last_exit: str | None
    pid: int | None
    gaps: tuple[Gap, ...] = field(default_factory=tuple)
