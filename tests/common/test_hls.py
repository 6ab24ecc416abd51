"""The one HLS playlist writer: sliding (live, rewind) and VOD (inside ZIP clips)."""

from __future__ import annotations

from dataclasses import dataclass

from common.hls import media_playlist


@dataclass(frozen=True)
class Seg:
    seq: int
    session: int
    start_ms: int
    duration_ms: int


def _segments() -> list[Seg]:
    return [
        Seg(10, 2, 1_700_000_000_000, 1000),
        Seg(11, 2, 1_700_000_001_000, 1000),
        Seg(12, 3, 1_700_000_005_000, 1480),
    ]


def test_sliding_playlist_with_discontinuities_and_dates() -> None:
    text = media_playlist(_segments(), lambda s: f"segments/{s.seq}.ts", min_target_s=2)
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",  # the floor asked for
        "#EXT-X-MEDIA-SEQUENCE:10",
        "#EXT-X-DISCONTINUITY-SEQUENCE:1",
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000+00:00",
        "#EXTINF:1.000,",
        "segments/10.ts",
        "#EXTINF:1.000,",
        "segments/11.ts",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:25.000+00:00",
        "#EXTINF:1.480,",
        "segments/12.ts",
    ]


def test_vod_playlist_ends_and_has_no_discontinuity_sequence() -> None:
    lines = media_playlist(_segments(), lambda s: f"seq-{s.seq:09d}.ts", vod=True).splitlines()
    assert lines[2] == "#EXT-X-TARGETDURATION:1"  # 1.48 s, rounded to the nearest second
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert not any(line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE") for line in lines)
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    assert lines[-1] == "#EXT-X-ENDLIST"


def test_the_target_is_the_longest_segment_rounded_to_the_nearest_second() -> None:
    """RFC 8216 4.3.3.1: an EXTINF rounded to the nearest integer must not exceed it."""
    for longest_ms, target in [(1000, 1), (1040, 1), (1499, 1), (1500, 2), (2400, 2)]:
        segments = [Seg(1, 1, 0, 1000), Seg(2, 1, 1000, longest_ms)]
        assert f"#EXT-X-TARGETDURATION:{target}" in media_playlist(segments, str).splitlines()


def test_empty_buffer_is_a_valid_playlist() -> None:
    assert media_playlist([], lambda s: "x").startswith("#EXTM3U\n#EXT-X-VERSION:3\n")


def test_blocking_reload_is_declared_for_sliding_playlists_only() -> None:
    sliding = media_playlist(_segments(), lambda s: "x", can_block_reload=True).splitlines()
    assert sliding[3] == "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"  # after the target
    assert sliding[2].startswith("#EXT-X-TARGETDURATION:")
    vod = media_playlist(_segments(), lambda s: "x", vod=True, can_block_reload=True)
    assert "SERVER-CONTROL" not in vod  # a finished playlist never changes
    assert "SERVER-CONTROL" not in media_playlist(_segments(), lambda s: "x")
