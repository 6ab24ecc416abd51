"""Video routes over a fake buffer, in process: clips, ranges, HLS, segments, snapshots."""

from __future__ import annotations

import asyncio

import pytest

from api.http.routes import video
from tests.api.conftest import InProcess
from tests.api.fakes import JPEG

pytestmark = pytest.mark.anyio

CLIP = "/api/v1/cameras/front/clip"


async def test_the_last_seconds_as_mp4_with_what_it_covers(server: InProcess) -> None:
    response = await server.client.get(CLIP, params={"seconds": "10"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    start, end = int(response.headers["x-clip-start"]), int(response.headers["x-clip-end"])
    assert end == server.buffer.newest_ms
    assert 0 < end - start <= 10_000  # the last 10 s up to now, as far as the buffer reaches
    assert response.headers["content-disposition"].startswith('attachment; filename="front-')
    assert response.content == f"mp4:{start}-{end}".encode() * 100
    assert int(response.headers["content-length"]) == len(response.content)


async def test_a_byte_range_of_a_clip_and_one_beyond_it(server: InProcess) -> None:
    whole = await server.client.get(CLIP, params={"seconds": "5"})
    part = await server.client.get(CLIP, params={"seconds": "5"}, headers={"Range": "bytes=4-9"})
    assert part.status_code == 206
    assert part.content == whole.content[4:10]
    assert part.headers["content-range"] == f"bytes 4-9/{len(whole.content)}"
    beyond = await server.client.get(
        CLIP, params={"seconds": "5"}, headers={"Range": "bytes=999999-"}
    )
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole.content)}"
    assert "outside the" in beyond.json()["detail"]


async def test_zip_and_streamed_fmp4(server: InProcess) -> None:
    zipped = await server.client.get(CLIP, params={"seconds": "3", "format": "zip"})
    assert zipped.status_code == 200
    assert zipped.headers["content-type"] == "application/zip"
    streamed = await server.client.get(CLIP, params={"seconds": "3", "format": "fmp4"})
    assert streamed.status_code == 200
    assert streamed.content.count(b"fmp4:") == 3


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({"seconds": "0"}, "seconds", "from 1 to 60"),
        ({"seconds": "nan"}, "seconds", "from 1 to 60"),
        ({"seconds": "5", "format": "avi"}, "format", "mp4, zip, fmp4"),
        ({"start": "1000"}, "end", "both start and end"),
        ({"start": "yesterday", "end": "2"}, "start", "ISO-8601"),
        ({"start": "5000", "end": "4000"}, "end", "after start"),
        ({"seconds": "5", "start": "1"}, "seconds", "not both"),
    ],
)
async def test_bad_clip_parameters_are_422_naming_them(
    server: InProcess, params: dict[str, str], parameter: str, words: str
) -> None:
    response = await server.client.get(CLIP, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["parameter"] == parameter
    assert words in body["detail"]


async def test_a_range_outside_the_buffer_is_416_with_what_there_is(server: InProcess) -> None:
    response = await server.client.get(CLIP, params={"start": "1000", "end": "5000"})
    assert response.status_code == 416
    assert response.json()["available"] == {
        "start_ms": server.buffer.first_ms,
        "end_ms": server.buffer.newest_ms,
    }


async def test_live_playlist_segments_play_without_a_token(server: InProcess) -> None:
    playlist = await server.client.get("/api/v1/cameras/front/live.m3u8")
    assert playlist.status_code == 200
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    uris = [line for line in playlist.text.splitlines() if not line.startswith("#")]
    assert len(uris) == 6
    newest = server.buffer.recent(1)[0]
    assert uris[-1].startswith(f"/api/v1/cameras/front/segments/{newest.seq}.ts?exp=")
    segment = await server.anonymous.get(uris[-1])
    assert segment.status_code == 200
    assert segment.headers["content-type"] == "video/mp2t"
    assert len(segment.content) == server.buffer.segment_bytes
    rewind = await server.client.get("/api/v1/cameras/front/rewind.m3u8")
    assert rewind.text.count("#EXTINF") == len(server.buffer.recent(None))


async def test_an_evicted_segment_is_416_and_a_bad_seq_422(server: InProcess) -> None:
    evicted = await server.client.get("/api/v1/cameras/front/segments/1.ts")
    assert evicted.status_code == 416
    assert evicted.json()["detail"].startswith("segment 1: no video there")
    bad = await server.client.get("/api/v1/cameras/front/segments/x.ts")
    assert bad.status_code == 422
    assert bad.json()["parameter"] == "path.seq"


async def test_snapshot_and_signed_urls(server: InProcess) -> None:
    snapshot = await server.client.get("/api/v1/cameras/front/snapshot.jpg")
    assert snapshot.status_code == 200
    assert snapshot.content == JPEG
    assert int(snapshot.headers["x-snapshot-at"]) == server.buffer.recent(1)[0].start_ms
    urls = (await server.client.get("/api/v1/cameras/front/signed-urls")).json()
    for name in ("live", "rewind", "snapshot"):
        assert (await server.anonymous.get(urls[name])).status_code == 200
    unknown = await server.client.get("/api/v1/cameras/back/signed-urls")
    assert (unknown.status_code, unknown.json()["allowed"]) == (404, ["front"])


LIVE = "/api/v1/cameras/front/live.m3u8"


def _uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if not line.startswith("#")]


async def test_a_blocking_reload_answers_when_the_asked_segment_is_made(
    server: InProcess,
) -> None:
    first = await server.client.get(LIVE)
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES" in first.text.splitlines()
    newest = server.buffer.recent(1)[0].seq
    held = asyncio.create_task(server.client.get(LIVE, params={"_HLS_msn": str(newest + 2)}))
    await asyncio.sleep(0.05)
    assert not held.done()  # nothing new yet: the request is held
    await server.buffer.grow_to(server.buffer.newest_ms + 1000)
    await asyncio.sleep(0.05)
    assert not held.done()  # one segment is not the one asked for
    await server.buffer.grow_to(server.buffer.newest_ms + 1000)
    async with asyncio.timeout(5):
        answer = await held
    assert answer.status_code == 200
    assert _uris(answer.text)[-1].startswith(f"/api/v1/cameras/front/segments/{newest + 2}.ts?")
    # A segment already there: answered at once, with the playlist as it is.
    now = await server.client.get(LIVE, params={"_HLS_msn": "3", "_HLS_part": "0"})
    assert (now.status_code, _uris(now.text)) == (200, _uris(answer.text))


async def test_a_blocking_reload_not_satisfied_in_time_is_503(
    server: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video, "MAX_HOLD_S", 0.1)
    newest = server.buffer.recent(1)[0].seq
    late = await server.client.get(LIVE, params={"_HLS_msn": str(newest + 1)})
    assert late.status_code == 503
    assert late.headers["retry-after"] == "1"
    assert late.json()["detail"].startswith(f"segment {newest + 1} was not made within 0.1 s")


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"_HLS_msn": "{ahead}"}, 400, "too far ahead: the newest segment is"),
        ({"_HLS_part": "0"}, 400, "_HLS_part needs _HLS_msn"),
        ({"_HLS_msn": "-1"}, 422, "_HLS_msn must be a non-negative integer"),
        ({"_HLS_msn": "1e3"}, 422, "_HLS_msn must be a non-negative integer"),
        ({"_HLS_msn": "٣"}, 422, "_HLS_msn must be a non-negative integer"),
        ({"_HLS_msn": "9" * 13}, 422, "at most 12 digits"),
        ({"_HLS_msn": "5", "_HLS_part": "x"}, 422, "_HLS_part must be a non-negative integer"),
    ],
)
async def test_bad_delivery_directives_say_what_is_allowed(
    server: InProcess, params: dict[str, str], status: int, words: str
) -> None:
    ahead = str(server.buffer.recent(1)[0].seq + 3)
    query = {k: v.format(ahead=ahead) for k, v in params.items()}
    answer = await server.client.get(LIVE, params=query)
    assert answer.status_code == status
    assert words in answer.json()["detail"]


async def test_a_signed_playlist_url_stays_valid_with_player_directives(
    server: InProcess,
) -> None:
    urls = (await server.client.get("/api/v1/cameras/front/signed-urls")).json()
    newest = server.buffer.recent(1)[0].seq
    blocking = await server.anonymous.get(f"{urls['live']}&_HLS_msn={newest}&_HLS_skip=NO")
    assert blocking.status_code == 200
    other = await server.anonymous.get(f"{urls['live']}&camera=back")
    assert other.status_code == 403  # any other parameter is still signed
