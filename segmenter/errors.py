"""The segmenter's exception tree.

SegmenterError
├── SegmenterFatal          configuration or environment is broken; restarting cannot help
│   └── FfmpegNotFound      the ffmpeg binary is missing or not executable
├── IndexOrderError         a segment was added out of order (a bug, never input)
└── ClipError               a clip, snapshot or segment could not be read from the buffer

Third-party errors are translated where the buffer is read: PyAV's, OSError and malformed
MP4 boxes become ClipError. Two things are deliberately not errors of this tree: an ffmpeg
run that ends or stalls (the loop restarts it and says why in `stats().last_exit`), and an
OSError of the buffer directory while segmenting or recovering, which propagates as it is
so that the server's supervisor restarts the loop as a transient failure.
"""


class SegmenterError(Exception):
    """Base of every error this package raises."""


class SegmenterFatal(SegmenterError):
    """Restarting will not help: the process should end so its supervisor can act."""


class FfmpegNotFound(SegmenterFatal):
    """The configured ffmpeg binary cannot be executed."""


class IndexOrderError(SegmenterError):
    """A segment was added whose sequence number or start is not after the newest one."""


class ClipError(SegmenterError):
    """A clip, a snapshot or a segment's bytes could not be made from segments the buffer
    holds: the server's failure, not the request's (the next segment is usually fine)."""
