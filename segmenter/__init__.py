"""The rolling buffer: ffmpeg stream-copy segmenting, the in-memory index, eviction, pins.

A library plus asyncio loops, run inside the server process; it knows nothing of HTTP.
"""

from segmenter.camera import CameraSegmenter
from segmenter.config import SegmenterConfig
from segmenter.errors import FfmpegNotFound, SegmenterError, SegmenterFatal
from segmenter.index import SegmentIndex
from segmenter.model import Gap, Segment, SegmenterStats

__all__ = [
    "CameraSegmenter",
    "FfmpegNotFound",
    "Gap",
    "Segment",
    "SegmentIndex",
    "SegmenterConfig",
    "SegmenterError",
    "SegmenterFatal",
    "SegmenterStats",
]
