"""HLS playlists of the buffer."""

from __future__ import annotations

from pathlib import Path

from api.video.hls import buffer_playlist
from segmenter.model import Segment

T0 = 1_795_428_900_000  # 2026-11-23T10:15:00Z


def seg(seq: int, session: int, start: int, dur: int = 1000) -> Segment:
    return Segment("front", seq, session, start, start + dur, 1, Path(f"seq-{seq:09d}.ts"), True)


def test_sliding_playlist_with_discontinuities_and_dates() -> None:
    segments = [seg(10, 3, T0), seg(11, 3, T0 + 1000, 1040), seg(12, 4, T0 + 9000)]
    text = buffer_playlist(segments, lambda s: f"segments/{s.seq}.ts")
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:10",
        "#EXT-X-DISCONTINUITY-SEQUENCE:2",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:15:00.000+00:00",
        "#EXTINF:1.000,",
        "segments/10.ts",
        "#EXTINF:1.040,",
        "segments/11.ts",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:15:09.000+00:00",
        "#EXTINF:1.000,",
        "segments/12.ts",
    ]
    assert "#EXT-X-ENDLIST" not in text


def test_empty_buffer_is_a_valid_playlist() -> None:
    assert buffer_playlist([], lambda s: "x").startswith("#EXTM3U\n#EXT-X-VERSION:3\n")
