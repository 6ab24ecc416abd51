"""HLS playlists of the rolling buffer: live (a sliding window of the newest segments) and
rewind (all of it), written by the one playlist writer (`common.hls`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from api.video.ports import SegmentView
from common.hls import media_playlist

LIVE_WINDOW = 6
# hls.js holds three target durations back from the live edge; 2 is what players were
# given so far (the app's low-delay live view changes this together with its player).
MIN_TARGET_S = 2


def buffer_playlist(segments: Sequence[SegmentView], uri: Callable[[SegmentView], str]) -> str:
    """A sliding playlist (no ENDLIST) of `segments`, oldest first."""
    return media_playlist(segments, uri, min_target_s=MIN_TARGET_S)
