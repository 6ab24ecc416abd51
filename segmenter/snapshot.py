"""A JPEG of one frame of a segment: one decoded frame, never a re-encode of the video.
Blocking: callers run it in a worker thread."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import av.error
import av.video.frame

from segmenter.errors import ClipError
from segmenter.timing import TS_TIME_BASE


def keyframe_jpeg(path: Path, quality: int = 5) -> bytes:
    """Decode the first frame of `path` (a keyframe) and encode it as JPEG."""
    return frame_jpeg(path, 0, quality)[1]


def frame_jpeg(path: Path, offset_ms: int, quality: int = 5) -> tuple[int, bytes]:
    """The last frame at or before `offset_ms` into the segment, as JPEG (`quality`: 2 best ..
    31), with its offset in ms. Only the frames up to it are decoded (at most a second's)."""
    try:
        with av.open(str(path), format="mpegts") as src:
            stream = src.streams.video[0]
            time_base = stream.time_base or TS_TIME_BASE
            if offset_ms <= 0:
                # Only the keyframe is wanted: skip decoding everything else.
                stream.codec_context.skip_frame = "NONKEY"
            frame, at_ms = _frame_at(src.decode(stream), offset_ms, time_base)
    except (av.error.FFmpegError, IndexError) as exc:
        raise ClipError(f"no frame to snapshot in {path.name}: {exc}") from exc
    if frame is None:
        raise ClipError(f"no frame to snapshot in {path.name}: it decodes to nothing")
    return at_ms, _jpeg(frame, time_base, quality, path.name)


def _frame_at(
    frames: Iterable[av.video.frame.VideoFrame], offset_ms: int, time_base: Fraction
) -> tuple[av.video.frame.VideoFrame | None, int]:
    chosen: av.video.frame.VideoFrame | None = None
    chosen_ms = 0
    first_pts: int | None = None
    for frame in frames:
        pts = frame.pts if frame.pts is not None else 0
        if first_pts is None:
            first_pts = pts
        at_ms = int((pts - first_pts) * time_base * 1000)
        if chosen is not None and at_ms > offset_ms:
            break
        chosen, chosen_ms = frame, at_ms
        if offset_ms <= 0:
            break
    return chosen, chosen_ms


def _jpeg(frame: av.video.frame.VideoFrame, time_base: Fraction, quality: int, name: str) -> bytes:
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
            f"cannot encode a frame of {name} ({frame.width}x{frame.height} "
            f"{frame.format.name}, time base {time_base}) as JPEG: {exc}"
        ) from exc
    return b"".join(bytes(p) for p in packets)
