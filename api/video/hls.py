"""HLS playlists of the rolling buffer: live (a sliding window of the newest segments) and
rewind (all of it), written by the one playlist writer (`common.hls`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from api.video.ports import SegmentView
from common.hls import media_playlist

LIVE_WINDOW = 6
# Segments are 1 s (a keyframe every second): say so. A larger target makes players hold
# back more (hls.js: three target durations behind the live edge by default).
MIN_TARGET_S = 1


def buffer_playlist(segments: Sequence[SegmentView], uri: Callable[[SegmentView], str]) -> str:
    """A sliding playlist (no ENDLIST) of `segments`, oldest first."""
    return media_playlist(segments, uri, min_target_s=MIN_TARGET_S)
