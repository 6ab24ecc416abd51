"""Clips, HLS, segments, snapshots and signed URLs over HTTP, on the real stack.

`yard` has a buffer seeded through the sidecar contract (130 s made faster than real time);
`front` is a live simulated camera.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import itertools
import re
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from api.http.signing import UrlSigner
from tests.conftest import require_binary, wait_for
from tests.stack.harness import (
    TOKEN,
    Server,
    decode_errors,
    now_ms,
    probe,
    seed_buffer,
    simcam,
    stop,
)

pytestmark = pytest.mark.stack

KEYS = {"front": "front-stream-key-0123456789", "yard": "yard-stream-key-0123456789"}
SIGNING_KEY = "test-url-signing-key-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seed_segments: list[Path]) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("clips")
    server = Server(
        root,
        KEYS,
        buffer_seconds=300,
        extra={
            "clip_concurrency": 2,
            "clip_queue": 18,
            "clip_cache_dir": str(root / "clip-cache"),
            "url_signing_key": SIGNING_KEY,
        },
    )
    server.seeded = seed_buffer(server, "yard", seed_segments[:120], now_ms())  # type: ignore[attr-defined]
    server.start()
    yield server
    server.stop()
    print(server.log_tail(60))


@pytest.fixture(scope="module")
def live(server: Server) -> Iterator[subprocess.Popen[bytes]]:
    proc = simcam(server.publish_url("front"), server.root / "simcam.log")
    wait_for("7 live segments", lambda: len(server.sidecar("front")) >= 7 or None, 20)
    yield proc
    stop(proc)


def yard_end(server: Server) -> int:
    end: int = server.seeded[-1]["end_ms"]  # type: ignore[attr-defined]
    return end


def fetch(server: Server, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.base}{path}", params=params, headers=AUTH, timeout=60)


def save(tmp_path: Path, response: httpx.Response, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(response.content)
    return path


def assert_playable_mp4(path: Path, covered_s: float) -> dict[str, Any]:
    info = probe(path)
    assert info["streams"][0]["codec_name"] == "h264"
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (640, 480)
    assert info["first_frame"]["key_frame"] == 1
    assert abs(float(info["format"]["duration"]) - covered_s) <= 0.1, info
    assert decode_errors(path) == ""
    return info


def covered_s(response: httpx.Response) -> float:
    return (int(response.headers["x-clip-end"]) - int(response.headers["x-clip-start"])) / 1000


def test_last_60_seconds_as_a_faststart_mp4(server: Server, tmp_path: Path) -> None:
    asked_at = now_ms()
    response = fetch(server, "/api/v1/cameras/yard/clip", seconds=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert re.fullmatch(
        r'attachment; filename="yard-\d{8}T\d{6}Z-\d+s\.mp4"',
        response.headers["content-disposition"],
    )
    start, end = int(response.headers["x-clip-start"]), int(response.headers["x-clip-end"])
    # The buffer ends where the seeding ended; the clip covers the request within a segment.
    assert end == yard_end(server)
    assert abs(start - (asked_at - 60_000)) <= 1000 + (now_ms() - asked_at)
    assert response.headers["x-clip-gaps"] == ""
    data = response.content
    assert data[4:8] == b"ftyp"
    assert data.find(b"moov") < data.find(b"mdat"), "moov must come first (faststart)"
    assert_playable_mp4(save(tmp_path, response, "last60.mp4"), covered_s(response))


def test_a_start_end_range_in_iso_and_ms(server: Server, tmp_path: Path) -> None:
    end = yard_end(server)
    start_iso = datetime.fromtimestamp((end - 30_000) / 1000, UTC).isoformat()
    response = fetch(server, "/api/v1/cameras/yard/clip", start=start_iso, end=end - 20_000)
    assert response.status_code == 200, response.text
    assert abs(covered_s(response) - 10) <= 1
    assert int(response.headers["x-clip-start"]) <= end - 30_000
    assert_playable_mp4(save(tmp_path, response, "range.mp4"), covered_s(response))


def test_the_last_5_seconds_of_a_live_camera(
    server: Server, live: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    response = fetch(server, "/api/v1/cameras/front/clip", seconds=5)
    assert response.status_code == 200, response.text
    assert 4 <= covered_s(response) <= 6
    assert_playable_mp4(save(tmp_path, response, "live5.mp4"), covered_s(response))


def test_byte_ranges_put_together_are_the_whole_file(server: Server) -> None:
    end = yard_end(server)
    params = {"start": end - 40_000, "end": end - 20_000}
    whole = fetch(server, "/api/v1/cameras/yard/clip", **params)
    size = len(whole.content)
    etag = whole.headers["etag"]
    url = f"{server.base}/api/v1/cameras/yard/clip"

    def part(spec: str, **headers: str) -> httpx.Response:
        return httpx.get(url, params=params, headers={**AUTH, "Range": spec, **headers}, timeout=30)

    head, middle, tail = part("bytes=0-999"), part(f"bytes=1000-{size - 1001}"), part("bytes=-1000")
    for response in (head, middle, tail):
        assert response.status_code == 206
        assert response.headers["etag"] == etag
    assert head.headers["content-range"] == f"bytes 0-999/{size}"
    assert tail.headers["content-range"] == f"bytes {size - 1000}-{size - 1}/{size}"
    assert head.content + middle.content + tail.content == whole.content
    beyond = part(f"bytes={size}-")
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert str(size) in beyond.json()["detail"]
    stale = part("bytes=0-9", **{"If-Range": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == whole.content


def test_zip_holds_the_segments_and_a_playlist_ffmpeg_plays(server: Server, tmp_path: Path) -> None:
    end = yard_end(server)
    response = fetch(server, "/api/v1/cameras/yard/clip", start=end - 10_000, end=end, format="zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].endswith('s.zip"')
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        infos = archive.infolist()
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        names = [i.filename for i in infos]
        playlists = [n for n in names if n.endswith(".m3u8")]
        assert len(playlists) == 1
        assert len([n for n in names if n.endswith(".ts")]) == 10
        archive.extractall(tmp_path / "zip")
    playlist = tmp_path / "zip" / playlists[0]
    assert "#EXT-X-ENDLIST" in playlist.read_text()
    assert decode_errors(playlist) == ""
    assert abs(float(probe(playlist)["format"]["duration"]) - 10) <= 0.2


def test_fragmented_mp4_is_streamed(server: Server, tmp_path: Path) -> None:
    end = yard_end(server)
    params: dict[str, str | int] = {"start": end - 20_000, "end": end, "format": "fmp4"}
    with httpx.stream(
        "GET", f"{server.base}/api/v1/cameras/yard/clip", params=params, headers=AUTH, timeout=30
    ) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        chunks = list(response.iter_bytes())
    path = tmp_path / "clip.fmp4.mp4"
    path.write_bytes(b"".join(chunks))
    assert b"moof" in path.read_bytes()
    assert_playable_mp4(path, 20)


def signed_urls(server: Server, camera: str) -> dict[str, Any]:
    response = fetch(server, f"/api/v1/cameras/{camera}/signed-urls")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_live_hls_gives_continuous_frames_40ms_apart(
    server: Server, live: subprocess.Popen[bytes]
) -> None:
    ffprobe = require_binary("ffprobe")
    url = server.base + signed_urls(server, "front")["live"]  # no header: a player's view
    out = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+5",
         "-show_entries", "frame=pts_time", "-of", "csv=p=0", url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    times = [float(line.split(",")[0]) for line in out.stdout.split() if line.strip()]
    assert len(times) >= 5 * 25 - 2
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(step - 0.04) < 0.002 for step in steps), sorted(steps)[-5:]


def test_rewind_covers_the_buffer_with_signed_segments(server: Server) -> None:
    response = fetch(server, "/api/v1/cameras/yard/rewind.m3u8")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = response.text.splitlines()
    uris = [line for line in lines if line and not line.startswith("#")]
    durations = [float(line[8:-1]) for line in lines if line.startswith("#EXTINF:")]
    camera = server.camera("yard")["buffer"]
    assert len(uris) == camera["segments"] == 120
    assert f"#EXT-X-MEDIA-SEQUENCE:{server.seeded[0]['seq']}" in lines  # type: ignore[attr-defined]
    assert abs(sum(durations) - camera["seconds"]) < 0.01
    assert "#EXT-X-PROGRAM-DATE-TIME:" in response.text
    for uri in (uris[0], uris[-1]):
        segment = httpx.get(server.base + uri, timeout=10)  # signed: no bearer needed
        assert segment.status_code == 200
        assert segment.headers["content-type"] == "video/mp2t"
        name = f"seq-{int(urlsplit(uri).path.rsplit('/', 1)[1][:-3]):09d}.ts"
        assert segment.content == (server.buffer_dir / "yard" / name).read_bytes()


def test_forged_tampered_and_expired_signatures_are_refused(server: Server) -> None:
    live_url = signed_urls(server, "yard")["live"]
    path, query = urlsplit(live_url).path, dict(parse_qsl(urlsplit(live_url).query))
    ok = httpx.get(server.base + live_url, timeout=10)
    assert ok.status_code == 200
    forged = httpx.get(
        f"{server.base}{path}", params={**query, "sig": "A" * len(query["sig"])}, timeout=10
    )
    assert forged.status_code == 403
    assert forged.json()["detail"] == "invalid URL signature"
    other = httpx.get(f"{server.base}/api/v1/cameras/yard/rewind.m3u8", params=query, timeout=10)
    assert other.status_code == 403
    longer = httpx.get(
        f"{server.base}{path}", params={**query, "exp": int(query["exp"]) + 3600}, timeout=10
    )
    assert longer.status_code == 403
    signer = UrlSigner(SIGNING_KEY.encode(), 60)
    expired = signer.sign(path, exp=int(time.time()) - 1)
    response = httpx.get(server.base + expired, timeout=10)
    assert response.status_code == 403
    assert response.json()["detail"] == "signed URL expired"
    assert httpx.get(f"{server.base}{path}", timeout=10).status_code == 401


def test_snapshot_is_a_jpeg_of_the_newest_keyframe(
    server: Server, live: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    newest_before = server.camera("front")["buffer"]["end_ms"]
    started = time.monotonic()
    response = fetch(server, "/api/v1/cameras/front/snapshot.jpg")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"
    # The newest segment's keyframe: it began at most one (1-s) segment before the newest
    # video held when we asked, and not after the newest held once it answered.
    at = int(response.headers["x-snapshot-at"])
    assert newest_before - 2000 <= at <= server.camera("front")["buffer"]["end_ms"]
    info = probe(save(tmp_path, response, "snap.jpg"))
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (640, 480)
    signed = httpx.get(server.base + signed_urls(server, "front")["snapshot"], timeout=10)
    assert signed.status_code == 200
    assert signed.content[:2] == b"\xff\xd8"
    print(f"snapshot answered in {elapsed * 1000:.0f} ms")


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"seconds": "0"}, "seconds"),
        ({"seconds": "-5"}, "seconds"),
        ({"seconds": "1e9"}, "seconds"),
        ({"seconds": "nan"}, "seconds"),
        ({"seconds": "abc"}, "seconds"),
        ({"start": "5000", "end": "1000"}, "end"),
        ({"start": "5000"}, "end"),
        ({"start": "2026-11-23T10:00:00", "end": "2026-11-23T10:00:05Z"}, "start"),
        ({"seconds": "5", "format": "avi"}, "format"),
        ({}, "start"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    server: Server, params: dict[str, str], parameter: str
) -> None:
    response = fetch(server, "/api/v1/cameras/yard/clip", **params)
    assert response.status_code == 422, response.text
    assert response.json()["parameter"] == parameter
    assert parameter in response.json()["detail"]


def test_missing_cameras_segments_and_times_are_clear_4xx(server: Server) -> None:
    unknown = fetch(server, "/api/v1/cameras/garage/clip", seconds=5)
    assert unknown.status_code == 404
    assert unknown.json()["allowed"] == list(KEYS)
    outside = fetch(server, "/api/v1/cameras/yard/clip", start=1000, end=5000)
    assert outside.status_code == 416
    available = outside.json()["available"]
    assert available["end_ms"] == yard_end(server)
    assert fetch(server, "/api/v1/cameras/yard/segments/abc.ts").status_code == 422
    gone = fetch(server, "/api/v1/cameras/yard/segments/99999.ts")
    assert gone.status_code == 416
    assert gone.json()["available"]["start_ms"] == server.seeded[0]["start_ms"]  # type: ignore[attr-defined]
    # A traversal attempt, sent raw (httpx would normalise the dots away).
    for raw in ("/api/v1/cameras/yard/segments/../../etc/passwd",
                "/api/v1/cameras/yard/segments/..%2F..%2Fetc%2Fpasswd.ts"):  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        connection.request("GET", raw, headers=AUTH)
        status = connection.getresponse().status
        connection.close()
        assert status in (404, 422), (raw, status)


def test_twenty_concurrent_clips_all_complete_within_the_bound(server: Server) -> None:
    end = yard_end(server)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base, headers=AUTH, timeout=120) as client:
            distinct = [
                client.get(
                    "/api/v1/cameras/yard/clip",
                    params={"start": end - 110_000 + i * 3000, "end": end - 100_000 + i * 3000},
                )
                for i in range(20)
            ]
            return await asyncio.gather(*distinct)

    before = metrics(server)
    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 20
    for response in responses:
        assert response.content.find(b"moov") < response.content.find(b"mdat")
        assert abs(covered_s(response) - 10) <= 1
    after = metrics(server)
    assert after["doorbell_clip_running_peak"] <= 2
    assert after["doorbell_clip_assemblies_total"] - before["doorbell_clip_assemblies_total"] == 20


def test_identical_concurrent_requests_share_one_assembly(server: Server) -> None:
    end = yard_end(server)
    params = {"start": end - 77_000, "end": end - 70_000}

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base, headers=AUTH, timeout=60) as client:
            return await asyncio.gather(
                *[client.get("/api/v1/cameras/yard/clip", params=params) for _ in range(6)]
            )

    before = metrics(server)["doorbell_clip_assemblies_total"]
    responses = asyncio.run(run())
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert metrics(server)["doorbell_clip_assemblies_total"] - before == 1


def metrics(server: Server) -> dict[str, float]:
    text = server.get("/metrics").text
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("doorbell_clip")
    }


def test_a_clip_requested_while_eviction_runs_is_never_truncated(
    tmp_path: Path, seed_segments: list[Path]
) -> None:
    server = Server(tmp_path, {"porch": KEYS["front"]}, buffer_seconds=8, relay=False)
    seed_buffer(server, "porch", seed_segments[:9], now_ms())
    server.start()
    try:
        counts, clips = [], 0
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            camera = server.camera("porch")["buffer"]
            counts.append(camera["segments"])
            if camera["segments"] == 0:
                break
            response = fetch(
                server, "/api/v1/cameras/porch/clip", start=camera["start_ms"], end=camera["end_ms"]
            )
            if response.status_code == 416:
                continue  # evicted between the two requests: said so, not truncated
            assert response.status_code == 200, response.text
            info = probe(save(tmp_path, response, f"evicting-{clips}.mp4"))
            assert abs(float(info["format"]["duration"]) - covered_s(response)) <= 0.1
            clips += 1
        assert clips >= 3
        assert max(counts) > min(counts), "eviction should have run during the requests"
    finally:
        server.stop()
