"""HLS media playlists of the rolling buffer: live (a sliding window) and rewind (all of it)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from api.ports import SegmentView

LIVE_WINDOW = 6


def iso_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


def media_playlist(segments: Sequence[SegmentView], uri: Callable[[SegmentView], str]) -> str:
    """A sliding (no ENDLIST) playlist of `segments`, oldest first.

    Sequence numbers are the segmenter's, so a player's position survives the window moving.
    Each publisher session after the first is one discontinuity, so the discontinuity
    sequence of the window is its first segment's session number minus one.
    """
    longest = max((s.duration_ms for s in segments), default=1000)
    target = max(math.ceil(longest / 1000), 2)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}"]
    if segments:
        first = segments[0]
        lines += [
            f"#EXT-X-MEDIA-SEQUENCE:{first.seq}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{max(first.session - 1, 0)}",
        ]
    previous: SegmentView | None = None
    for segment in segments:
        if previous is not None and segment.session != previous.session:
            lines.append("#EXT-X-DISCONTINUITY")
        if previous is None or segment.session != previous.session:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{iso_ms(segment.start_ms)}")
        lines.append(f"#EXTINF:{segment.duration_ms / 1000:.3f},")
        lines.append(uri(segment))
        previous = segment
    return "\n".join(lines) + "\n"
