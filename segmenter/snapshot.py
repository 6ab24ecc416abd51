"""A JPEG of a segment's first frame (a keyframe): one decoded frame, never a re-encode of
the video. Blocking: callers run it in a worker thread."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error

from segmenter.errors import ClipError


def keyframe_jpeg(path: Path, quality: int = 5) -> bytes:
    """Decode the first frame of `path` and encode it as JPEG (`quality`: 2 best .. 31)."""
    try:
        with av.open(str(path), format="mpegts") as src:
            stream = src.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            frame = next(src.decode(stream))
            time_base = stream.time_base or Fraction(1, 90_000)
    except (av.error.FFmpegError, StopIteration, IndexError) as exc:
        raise ClipError(f"no frame to snapshot in {path.name}: {exc}") from exc
    try:
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height = frame.width, frame.height
        encoder.pix_fmt = "yuvj420p"
        encoder.time_base = time_base
        encoder.options = {"qmin": str(quality), "qmax": str(quality)}
        packets = encoder.encode(frame.reformat(format="yuvj420p"))
        packets += encoder.encode(None)
    except av.error.FFmpegError as exc:
        # Seen once in CI and not reproduced since: say what the encoder was given.
        raise ClipError(
            f"cannot encode {path.name}'s keyframe ({frame.width}x{frame.height} "
            f"{frame.format.name}, time base {time_base}) as JPEG: {exc}"
        ) from exc
    return b"".join(bytes(p) for p in packets)
