"""HLS playlists of the buffer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from api.video.hls import buffer_playlist, wait_for_segment
from segmenter.model import Segment
from tests.api.fakes import FakeBuffer

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


@pytest.mark.anyio
async def test_waiting_for_a_segment_follows_the_buffer_one_segment_at_a_time() -> None:
    buffer = FakeBuffer(first_ms=T0, newest_ms=T0 + 10_000)
    newest = buffer.recent(1)[0]
    assert await wait_for_segment(buffer, newest.seq, 5)  # there already: no wait
    assert buffer.waited == []
    waiting = asyncio.create_task(wait_for_segment(buffer, newest.seq + 2, 5))
    for _ in range(2):
        await asyncio.sleep(0.02)
        assert not waiting.done()
        await buffer.grow_to(buffer.newest_ms + 1000)
    async with asyncio.timeout(5):
        assert await waiting
    # Each wait asks for video past the newest segment's end.
    assert [ms for ms, _ in buffer.waited] == [newest.end_ms + 1, newest.end_ms + 1001]


@pytest.mark.anyio
async def test_waiting_for_a_segment_gives_up_at_its_deadline() -> None:
    empty = FakeBuffer(first_ms=T0, newest_ms=T0)
    assert not await wait_for_segment(empty, 0, 0.05)
    assert empty.waited[0][0] == 0  # an empty buffer waits for its first segment
    assert 0 < empty.waited[0][1] <= 0.05
