"""Clips of buffer segments, never re-encoded: which segments make one (`ClipPlan`), the
PyAV remux (fragmented MP4 streamed as it is made, and the MP4 of segments that have no sample
index), and ZIP of the raw segments with a VOD playlist. The usual MP4 is not remuxed but
concatenated from sample indexes (`formats.mp4concat`).

Blocking (file and CPU work): callers run these in worker threads.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
import av.error

from common.hls import media_playlist
from segmenter.errors import ClipError
from segmenter.model import Gap, Segment
from segmenter.timing import DEFAULT_FRAME_S, MAX_DTS_JUMP_S, TS_TIME_BASE

logger = logging.getLogger(__name__)

PROBE_OPTIONS = {"probesize": "32768", "analyzeduration": "0"}


@dataclass(frozen=True, slots=True)
class ClipPlan:
    """Which segments make a clip of [start_ms, end_ms), and what they really cover."""

    camera: str
    segments: tuple[Segment, ...]
    gaps: tuple[Gap, ...]

    @property
    def start_ms(self) -> int:
        return self.segments[0].start_ms

    @property
    def end_ms(self) -> int:
        return self.segments[-1].end_ms

    @property
    def source_bytes(self) -> int:
        """The bytes of its segments: an assembled clip is about this size."""
        return sum(s.size for s in self.segments)

    @property
    def key(self) -> str:
        """Identifies the clip's content: same segments, same bytes."""
        return f"{self.camera}-{self.segments[0].seq}-{self.segments[-1].seq}"


def plan_clip(camera: str, covering: Sequence[Segment], gaps: Sequence[Gap]) -> ClipPlan | None:
    """A plan over the segments that cover a range (None if none do), with the gaps inside."""
    if not covering:
        return None
    first, last = covering[0].start_ms, covering[-1].end_ms
    inside = tuple(g for g in gaps if g.start_ms >= first and g.end_ms <= last)
    return ClipPlan(camera, tuple(covering), inside)


def _concat_url(segments: Sequence[Segment]) -> str:
    # ffmpeg's concat protocol reads the files back to back in C; segment paths are ours
    # (seq-NNNNNNNNN.ts under an allow-listed camera folder), never user input.
    return "concat:" + "|".join(str(s.path) for s in segments)


def remux_mp4(
    segments: Sequence[Segment], out: str | Path | IO[bytes] | io.RawIOBase, fragmented: bool
) -> int:
    """Remux the segments' H.264 into MP4 at `out`; timestamps start at 0. Returns frames.

    `fragmented=False` writes a plain MP4 with the moov last (`out` must be seekable); serve it
    moov-first through `faststart.faststart_layout` instead of rewriting it.
    `fragmented=True` writes fragmented MP4 that can be sent while it is made.
    """
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fragmented else {}
    try:
        # The segments are ours: H.264 in MPEG-TS, SPS/PPS before each keyframe. A tiny probe
        # finds the stream at once (the default reads 5 MB: ~4 ms of a 30-s clip's ~35).
        with av.open(_concat_url(segments), format="mpegts", options=PROBE_OPTIONS) as src:
            if not src.streams.video:
                raise ClipError("the segments hold no video stream")
            vin = src.streams.video[0]
            with av.open(out, "w", format="mp4", options=options) as dst:
                vout = dst.add_stream_from_template(vin)
                return _copy_packets(src.demux(vin), vin.time_base, vout, dst)
    except (av.error.FFmpegError, OSError) as exc:
        raise ClipError(f"remux failed: {exc}") from exc


def _copy_packets(
    packets: object,
    time_base: Fraction | None,
    vout: av.VideoStream,
    dst: av.container.OutputContainer,
) -> int:
    """Copy every packet to `vout` with timestamps rebased to 0 (the hot loop: ~22,500
    packets for a 900-s clip, so each attribute is read once and `mux_one` skips `mux`'s
    list handling)."""
    tb = time_base or TS_TIME_BASE
    max_jump = int(MAX_DTS_JUMP_S / tb)
    step = int(DEFAULT_FRAME_S / tb)
    mux = dst.mux_one
    offset: int | None = None
    last = 0
    frames = 0
    for packet in packets:  # type: ignore[attr-defined]
        dts = packet.dts
        pts = packet.pts
        if dts is None or pts is None:
            continue  # the demuxer's flush packet
        if offset is None:
            offset = dts
            new = 0
        else:
            new = dts - offset
            if new <= last or new > last + max_jump:
                # A new publisher session restarts its clock: splice it on one frame later.
                offset = dts - (last + step)
                new = last + step
            else:
                step = new - last
        packet.dts = new
        packet.pts = pts - offset
        packet.stream = vout
        mux(packet)
        last = new
        frames += 1
    if frames == 0:
        raise ClipError("the segments hold no video packets")
    return frames


def write_zip(segments: Sequence[Segment], out: Path, playlist_name: str) -> int:
    """The raw segments and a playlist of them, stored (no compression: video is compressed).
    Returns the ZIP's size."""
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(playlist_name, media_playlist(segments, _file_name, vod=True))
            for segment in segments:
                archive.write(segment.path, arcname=segment.path.name)
        return out.stat().st_size
    except OSError as exc:
        raise ClipError(f"writing the ZIP failed: {exc}") from exc


def _file_name(segment: Segment) -> str:
    return segment.path.name
