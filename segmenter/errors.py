"""The segmenter's exception tree.

SegmenterError
├── SegmenterFatal          configuration or environment is broken; restarting cannot help
│   └── FfmpegNotFound      the ffmpeg binary is missing or not executable
├── SessionEnded            one ffmpeg run ended (exit, stall); the loop restarts it
└── IndexOrderError         a segment was added out of order (a bug, never input)
"""


class SegmenterError(Exception):
    """Base of every error this package raises."""


class SegmenterFatal(SegmenterError):
    """Restarting will not help: the process should end so its supervisor can act."""


class FfmpegNotFound(SegmenterFatal):
    """The configured ffmpeg binary cannot be executed."""


class SessionEnded(SegmenterError):
    """One ffmpeg session ended; carries why, for logs and stats."""


class IndexOrderError(SegmenterError):
    """A segment was added whose sequence number or start is not after the newest one."""


class ClipError(SegmenterError):
    """A clip could not be assembled from its segments."""
