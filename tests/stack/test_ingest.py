"""Relay + segmenter end to end: real nginx-rtmp, the real server, real publishers.

One server (10-s buffer) is shared by the tests of this module, in order (the outage test has
a server of its own with a longer buffer); each test says
what state it needs and waits for it with a deadline.
"""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.stack.harness import (
    TOKEN,
    Server,
    device_token,
    ffmpeg_publisher,
    ffprobe_frames,
    simcam,
    stop,
)

pytestmark = pytest.mark.stack

KEYS = {
    "front": "front-stream-key-0123456789",
    "back": "back-stream-key-0123456789",
    "side": "side-stream-key-0123456789",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # These tests send wrong credentials from one address on purpose, many times; the
    # failed-authentication throttle has tests of its own (tests/api/http/test_throttle.py).
    server = Server(
        tmp_path_factory.mktemp("ingest"),
        KEYS,
        buffer_seconds=10,
        extra={"auth_throttle": {"failures": 10_000}},
    )
    server.start()
    yield server
    server.stop()
    print(server.log_tail(80))


@pytest.fixture(scope="module")
def front_camera(server: Server) -> Iterator[subprocess.Popen[bytes]]:
    """The simulated camera publishing to `front` for the whole module."""
    proc = simcam(server.publish_url("front"), server.root / "simcam-front.log")
    yield proc
    stop(proc)


def test_simulated_camera_segments_appear_and_start_with_keyframes(
    server: Server, front_camera: subprocess.Popen[bytes]
) -> None:
    # How soon the first segment comes after a publish is a speed, not a behaviour: bounded
    # here only so that a segmenter that never starts fails.
    wait_for("front online", lambda: server.camera("front")["online"], 10, 0.02)
    wait_for("4 segments", lambda: len(server.sidecar("front")) >= 4 or None, 15)
    segments = server.sidecar("front")
    # Every finished segment is ~1 s (GOP = fps) and starts with an IDR.
    for row in segments:
        assert 900 <= row["end_ms"] - row["start_ms"] <= 1100, row
        assert row["keyframe_start"], row
    for row in segments[:3]:
        frames = ffprobe_frames(server.buffer_dir / "front" / row["file"])
        assert frames[0]["key_frame"] == 1
        assert frames[0]["stream"]["codec_name"] == "h264"
        assert (frames[0]["stream"]["width"], frames[0]["stream"]["height"]) == (640, 480)
    # Laid end to end on the wall clock.
    for a, b in itertools.pairwise(segments):
        assert a["end_ms"] == b["start_ms"]


def test_ffmpeg_publisher_the_original_way_is_segmented(server: Server, h264_file: Path) -> None:
    proc = ffmpeg_publisher(h264_file, server.publish_url("back"), server.root / "ff-back.log")
    try:
        wait_for("back segments", lambda: len(server.sidecar("back")) >= 3 or None, 10)
        for row in server.sidecar("back"):
            assert row["keyframe_start"]
            assert 900 <= row["end_ms"] - row["start_ms"] <= 1100
        assert server.camera("back")["online"]
    finally:
        stop(proc)
    wait_for("back offline", lambda: not server.camera("back")["online"], 10)


def test_wrong_stream_key_is_refused_at_the_relay_and_nothing_is_recorded(
    server: Server, h264_file: Path
) -> None:
    bad = server.publish_url("side", key="not-the-key")
    ff = ffmpeg_publisher(h264_file, bad, server.root / "ff-side.log")
    assert ff.wait(15) != 0
    log = server.root / "simcam-side.log"
    cam = simcam(bad, log)
    try:
        # The doorbell does not give up: its watchdog restarts the pipeline, refused each time.
        wait_for(
            "the doorbell's publish refused twice",
            lambda: (
                "restart 2 in" in log.read_text() and "pipeline: error: sink: " in log.read_text()
            ),
            15,
        )
    finally:
        assert stop(cam) == 0
    unknown = server.publish_url("garage", key=KEYS["front"])
    assert ffmpeg_publisher(h264_file, unknown, server.root / "ff-garage.log").wait(15) != 0
    side = server.camera("side")
    assert not side["online"]
    assert side["buffer"]["segments"] == 0
    assert server.segment_files("side") == []
    assert "wrong stream key for side" in server.log_tail(200)


def test_real_time_eviction_deletes_files_and_the_buffer_stays_its_length(
    server: Server, front_camera: subprocess.Popen[bytes]
) -> None:
    """With the real clock and a running ffmpeg: footage older than the 10-s buffer is evicted,
    its files leave the disk beside the one ffmpeg is writing, and the buffer is full but never
    longer. (Which segments go when, by age, bytes and pins, is tested on a fake clock in
    tests/segmenter/test_index.py and test_camera_segmenter.py.)"""
    wait_for("front recording", lambda: server.camera("front")["buffer"]["segments"], 10)
    oldest = server.segment_files("front")[0]

    def evicted_and_bounded() -> bool:
        buffer = server.camera("front")["buffer"]
        files = server.segment_files("front")
        # The index spans at most the buffer length (plus one segment of rounding) and the
        # directory holds its files plus the one ffmpeg is writing (one more: the two reads
        # are not atomic).
        assert buffer["seconds"] <= 11.0, buffer
        if buffer["start_ms"] is not None:
            assert buffer["end_ms"] - buffer["start_ms"] <= 11_000, buffer
        assert len(files) <= buffer["segments"] + 2, (buffer, [f.name for f in files])
        return not oldest.exists() and buffer["seconds"] >= 9.0

    # Bounded: the buffer fills in 10 s, then the oldest file goes within a second.
    wait_for(f"{oldest.name} evicted from a full buffer", evicted_and_bounded, 30, 0.25)
    assert front_camera.poll() is None


def test_killed_ffmpeg_child_is_recovered_by_the_supervisor(
    server: Server, front_camera: subprocess.Popen[bytes]
) -> None:
    before = server.health()["cameras"]["front"]
    assert before["pid"], before
    newest = server.camera("front")["buffer"]["end_ms"]
    os.kill(before["pid"], signal.SIGKILL)

    def recovered() -> bool:
        now = server.health()["cameras"]["front"]
        return bool(
            now["restarts"] > before["restarts"]
            and now["pid"]
            and now["pid"] != before["pid"]
            and server.camera("front")["buffer"]["end_ms"] > newest + 2000
        )

    wait_for("segmenter restarted and recording again", recovered, 15)
    assert server.health()["status"] == "ok"


@pytest.fixture
def long_server(tmp_path: Path) -> Iterator[Server]:
    """A server whose buffer outlasts an outage with room to spare: under load a doorbell's
    restart takes several seconds, and the 10-s buffer of this module's server could evict the
    footage before the outage (and with it the gap) before the test reads them."""
    server = Server(tmp_path, {"front": KEYS["front"]}, buffer_seconds=60)
    server.start()
    yield server
    server.stop()
    print(server.log_tail(80))


def test_stopping_the_publisher_records_a_gap_and_republishing_resumes(
    long_server: Server,
) -> None:
    server = long_server
    first = simcam(server.publish_url("front"), server.root / "simcam-front.log")
    try:
        wait_for("front recording", lambda: server.camera("front")["buffer"]["segments"], 15)
    finally:
        assert stop(first) == 0, "simcam should exit cleanly on SIGTERM"
    wait_for("front offline", lambda: not server.camera("front")["online"], 10)
    sessions_before = max(r["session"] for r in server.sidecar("front"))
    again = simcam(server.publish_url("front"), server.root / "simcam-front-2.log")
    try:
        rows = wait_for(
            "a new session's segments",
            lambda: [r for r in server.sidecar("front") if r["session"] > sessions_before],
            15,
        )
        # The outage, from the last segment before it to the first after it, is the gap.
        last_before = max(
            r["end_ms"] for r in server.sidecar("front") if r["session"] <= sessions_before
        )
        gaps = server.camera("front")["gaps"]
        assert {"start_ms": last_before, "end_ms": rows[0]["start_ms"]} in gaps, gaps
        assert rows[0]["start_ms"] > last_before
        assert server.camera("front")["online"]
    finally:
        stop(again)


USER, PASSWORD = "stack-user", "stack user password"
# The routes about a person: a service token gets 403 there, a user's credentials are needed.
USER_ROUTES = ("/api/v1/session", "/api/v1/account/", "/api/v1/tokens")


def add_user(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """`doorbell user add` on the running server's database, as its operator would."""
    from api.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["user", "add", USER, "--config", str(server.config), "--password-stdin"]
    assert main(["--log-level", "WARNING", *argv]) == 0


def credentials(server: Server, method: str, path: str) -> dict[str, str]:
    """Headers that let `method path` through: the camera's device token for the doorbells'
    route, a fresh session (cookie and CSRF token) for the session itself, the user's API
    token for the other routes about the user, the service token elsewhere."""
    import httpx

    if path.startswith("/api/v1/agent/"):
        return {"Authorization": f"Bearer {device_token('front')}"}
    if not path.startswith(USER_ROUTES):
        return {"Authorization": f"Bearer {TOKEN}"}
    signed_in = httpx.post(
        f"{server.base}/api/v1/session", json={"username": USER, "password": PASSWORD}, timeout=5
    )
    assert signed_in.status_code == 200, signed_in.text
    session = {
        "Cookie": f"doorbell_session={signed_in.cookies['doorbell_session']}",
        "X-CSRF-Token": signed_in.json()["csrf_token"],
    }
    if path.startswith("/api/v1/session") and not path.startswith("/api/v1/sessions"):
        return session
    made = httpx.post(
        f"{server.base}/api/v1/tokens", json={"name": "stack"}, headers=session, timeout=5
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


def test_every_v1_route_refuses_missing_or_wrong_token(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    add_user(server, monkeypatch)
    spec = httpx.get(f"{server.base}/openapi.json", timeout=5).json()
    unknown = "00000000-0000-4000-8000-000000000000"
    routes = [
        (
            method,
            path.replace("{camera_id}", "front")
            .replace("{seq}", "0")
            .replace("{event_id}", unknown)
            .replace("{device_id}", unknown),
        )
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1")
        for method in item
    ]
    assert len(routes) >= 16
    for method, path in routes:
        url = f"{server.base}{path}"
        if (method, path) != ("post", "/api/v1/session"):  # signing in takes no credentials
            missing = httpx.request(method, url, timeout=5)
            wrong = httpx.request(method, url, headers={"Authorization": "Bearer nope"}, timeout=5)
            basic = httpx.request(method, url, headers={"Authorization": "Basic eDp5"}, timeout=5)
            for response in (missing, wrong, basic):
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert "token" in response.json()["detail"]
        if path.startswith(USER_ROUTES) and (method, path) != ("post", "/api/v1/session"):
            service = httpx.request(
                method, url, headers={"Authorization": f"Bearer {TOKEN}"}, json={}, timeout=5
            )
            assert service.status_code == 403, (method, path, service.text)
            assert "not a service token" in service.json()["detail"]
        # With credentials the route answers (some need a body, parameters or video: 4xx,
        # never 401 or 403).
        headers = credentials(server, method, path)
        with httpx.stream(
            method, url, headers=headers, json={}, timeout=5
        ) as ok:  # a stream: the event stream's body never ends
            status = ok.status_code
            text = "" if path.endswith("/stream") else ok.read().decode(errors="replace")
        assert status not in (401, 403), (method, path, text)
        assert status < 500, (method, path, text)


def test_unknown_camera_is_a_404_naming_the_allowed_ids(server: Server) -> None:
    response = server.get("/api/v1/cameras/garage")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown camera 'garage'", "allowed": list(KEYS)}


def test_relay_callbacks_need_the_relay_secret(server: Server) -> None:
    import httpx

    form = {"app": "live", "name": "front", "key": KEYS["front"], "call": "publish"}
    for secret in ("", "wrong"):
        response = httpx.post(
            f"{server.base}/internal/relay/on_publish?secret={secret}", data=form, timeout=5
        )
        assert response.status_code == 403


def test_metrics_report_the_buffer(server: Server) -> None:
    text = server.get("/metrics").text
    assert 'doorbell_buffer_seconds{camera="front"}' in text
    assert 'doorbell_loop_up{loop="relay"} 1' in text
