"""HLS playlists of the rolling buffer: live (a sliding window of the newest segments) and
rewind (all of it), written by the one playlist writer (`common.hls`); and the wait behind
a blocking live reload."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from api.video.ports import CameraBuffer, SegmentView
from common.hls import media_playlist

LIVE_WINDOW = 6
# Segments are 1 s (a keyframe every second): say so. A larger target makes players hold
# back more (hls.js: three target durations behind the live edge by default).
MIN_TARGET_S = 1


# Blocking playlist reload (RFC 8216bis 6.2.5.2): a player asks for the playlist that holds
# segment `_HLS_msn` and gets it the moment that segment is indexed, instead of polling once
# a target duration and finding it up to a second late. The server may refuse a segment more
# than two ahead of the newest, and holds a request at most three target durations.
MAX_AHEAD = 2
MAX_HOLD_S = 3.0 * MIN_TARGET_S


def buffer_playlist(
    segments: Sequence[SegmentView],
    uri: Callable[[SegmentView], str],
    *,
    can_block_reload: bool = False,
) -> str:
    """A sliding playlist (no ENDLIST) of `segments`, oldest first."""
    return media_playlist(
        segments, uri, min_target_s=MIN_TARGET_S, can_block_reload=can_block_reload
    )


async def wait_for_segment(buffer: CameraBuffer[Any], seq: int, timeout_s: float) -> bool:
    """Wait (at most `timeout_s`) until the buffer's newest segment is `seq` or later; True
    if it is. Each pass waits for the next segment after the newest (or the first one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        newest = buffer.recent(1)
        if newest and newest[-1].seq >= seq:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await buffer.wait_until(newest[-1].end_ms + 1 if newest else 0, remaining)
