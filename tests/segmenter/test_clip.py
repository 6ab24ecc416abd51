"""ZIP clips: the segments as they are, and a VOD playlist of them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from segmenter.clip import write_zip
from segmenter.errors import ClipError
from segmenter.model import Segment

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z


def test_a_zip_holds_the_segments_and_a_vod_playlist_dated_at_each_session(
    tmp_path: Path,
) -> None:
    spans = [(7, 1, T0, 1000), (8, 1, T0 + 1000, 1040), (9, 2, T0 + 5000, 1000)]
    segments = []
    for seq, session, start, duration in spans:
        path = tmp_path / f"seq-{seq:09d}.ts"
        path.write_bytes(bytes([seq]) * 188)
        segments.append(Segment("front", seq, session, start, start + duration, 188, path, True))
    out = tmp_path / "clip.zip"
    assert write_zip(segments, out, "front-7-9.m3u8") == out.stat().st_size
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["front-7-9.m3u8", *(s.path.name for s in segments)]
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        for segment in segments:
            assert archive.read(segment.path.name) == segment.path.read_bytes()
        playlist = archive.read("front-7-9.m3u8").decode()
    assert playlist.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:7",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:00.000+00:00",
        "#EXTINF:1.000,",
        "seq-000000007.ts",
        "#EXTINF:1.040,",
        "seq-000000008.ts",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:05.000+00:00",
        "#EXTINF:1.000,",
        "seq-000000009.ts",
        "#EXT-X-ENDLIST",
    ]


def test_a_zip_that_cannot_be_written_is_a_clip_error(tmp_path: Path) -> None:
    path = tmp_path / "seq-000000000.ts"
    path.write_bytes(b"\x47" * 188)
    segments = [Segment("front", 0, 1, T0, T0 + 1000, 188, path, True)]
    with pytest.raises(ClipError, match="writing the ZIP failed"):
        write_zip(segments, tmp_path / "no-such-dir" / "clip.zip", "clip.m3u8")
    path.unlink()
    with pytest.raises(ClipError, match="writing the ZIP failed"):
        write_zip(segments, tmp_path / "clip.zip", "clip.m3u8")
