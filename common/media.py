"""Clip formats: what the buffer can assemble and the API can serve."""

from __future__ import annotations

from typing import Literal, get_args

# mp4: faststart, served with byte ranges; fmp4: fragmented, streamed while it is made;
# zip: the raw MPEG-TS segments and an HLS playlist of them.
ClipFormat = Literal["mp4", "zip", "fmp4"]
CLIP_FORMATS: tuple[ClipFormat, ...] = get_args(ClipFormat)


def clip_format(value: str) -> ClipFormat | None:
    """`value` as a ClipFormat, or None if it is not one."""
    return next((fmt for fmt in CLIP_FORMATS if fmt == value), None)
