"""HLS media playlists (RFC 8216) of buffer segments: sliding (live, rewind) or VOD (the
playlist inside a ZIP clip). One writer, so every playlist we make follows the same rules."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar


class PlaylistSegment(Protocol):
    """What a playlist needs of a segment (the segmenter's `Segment` has it)."""

    @property
    def seq(self) -> int: ...
    @property
    def session(self) -> int: ...
    @property
    def start_ms(self) -> int: ...
    @property
    def duration_ms(self) -> int: ...


S = TypeVar("S", bound=PlaylistSegment)


def iso_ms(epoch_ms: int) -> str:
    """An EXT-X-PROGRAM-DATE-TIME value: ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


def media_playlist(
    segments: Sequence[S],
    uri: Callable[[S], str],
    *,
    vod: bool = False,
    min_target_s: int = 1,
    can_block_reload: bool = False,
) -> str:
    """A media playlist of `segments`, oldest first.

    Sliding (`vod=False`): no ENDLIST. Sequence numbers are the segmenter's, so a player's
    position survives the window moving; each publisher session after the first is one
    discontinuity, so the window's discontinuity sequence is its first session minus one.
    VOD: PLAYLIST-TYPE:VOD and ENDLIST. Both: a DISCONTINUITY where the session changes,
    and the wall-clock time (PROGRAM-DATE-TIME) at the start of each session.
    EXT-X-TARGETDURATION is the longest segment rounded to the nearest second, as RFC 8216
    (4.3.3.1) bounds it: a 1.04-s segment keeps 1-s segments at a target of 1, which is
    what players count their hold-back in. `min_target_s` is a floor.
    `can_block_reload` (sliding only) declares that the server holds a reload asking for a
    segment not yet made (`_HLS_msn`) until it is (RFC 8216bis 6.2.5.2).
    """
    longest = max((s.duration_ms for s in segments), default=1000)
    target = max(math.floor(longest / 1000 + 0.5), min_target_s)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}"]
    if can_block_reload and not vod:
        lines.append("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES")
    if segments:
        first = segments[0]
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first.seq}")
        if vod:
            lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
        else:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{max(first.session - 1, 0)}")
    previous: S | None = None
    for segment in segments:
        if previous is not None and segment.session != previous.session:
            lines.append("#EXT-X-DISCONTINUITY")
        if previous is None or segment.session != previous.session:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{iso_ms(segment.start_ms)}")
        lines.append(f"#EXTINF:{segment.duration_ms / 1000:.3f},")
        lines.append(uri(segment))
        previous = segment
    if vod:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
