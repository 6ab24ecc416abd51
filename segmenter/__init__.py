"""The rolling buffer of each camera: ffmpeg stream-copy segmenting onto /dev/shm, the
in-memory index with exact eviction and pins, and reading it back as clips (MP4, fragmented
MP4, ZIP), single segments and snapshots.

A library plus asyncio loops, run inside the server process. It knows nothing of HTTP and
imports nothing of `api/` or `agent/`, only `common/`.

- Writing: `camera` (`CameraSegmenter`: the ffmpeg session loop, indexing, eviction),
  `ffmpeg`, `listing`, `placement`, `sidecar`.
- The index: `index` (`SegmentIndex`, pure), over the leaves `model`, `config`, `errors`,
  `timing`.
- Reading: `reader` (`BufferReader`, which the camera owns), `clip`, `snapshot`, `threads`.
- Inside the files: `formats/` (MPEG-TS, H.264, MP4; blocking code, no asyncio).
"""

from segmenter.camera import CameraSegmenter
from segmenter.config import SegmenterConfig
from segmenter.errors import FfmpegNotFound, SegmenterError, SegmenterFatal
from segmenter.index import SegmentIndex
from segmenter.model import Gap, Segment, SegmenterStats
from segmenter.reader import BufferReader

__all__ = [
    "BufferReader",
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
