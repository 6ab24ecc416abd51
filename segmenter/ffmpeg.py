"""The ffmpeg stream-copy segmenter command (stopping the child is `common.process`)."""

from __future__ import annotations

from pathlib import Path


def segmenter_argv(ffmpeg: str, source_url: str, directory: Path, start_number: int) -> list[str]:
    """ffmpeg pulling `source_url` into 1-s MPEG-TS files, one CSV list line per finished file.

    Stream copy only: the encoder's 1-s GOP makes every segment start with a keyframe.
    `-analyzeduration 0 -probesize 32` bring the first segment from ~5.8 s to ~0.8 s after
    publish; `-rw_timeout` ends a pull whose publisher went silent. Timestamps stay continuous
    (no `-reset_timestamps`) so clips can be remuxed; the list goes to stdout (pipe:1), which
    ffmpeg flushes at each finished segment.
    """
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "warning",
        "-rw_timeout",
        "3000000",
        "-analyzeduration",
        "0",
        "-probesize",
        "32",
        "-i",
        source_url,
        "-map",
        "0:v",
        "-c",
        "copy",
        "-f",
        "segment",
        "-segment_time",
        "1",
        "-segment_format",
        "mpegts",
        "-segment_format_options",
        "mpegts_flags=+initial_discontinuity",
        "-segment_start_number",
        str(start_number),
        "-segment_list",
        "pipe:1",
        "-segment_list_type",
        "csv",
        str(directory / "seq-%09d.ts"),
    ]
