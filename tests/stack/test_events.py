"""Events, snapshots, saved event clips and pushes on the real stack: the server (nginx-rtmp,
ffmpeg, SQLite) with firebase-admin sending to a fake FCM v1 server, and the doorbell agent's
`test` profile as the camera `front` (`yard` is configured but has no camera).

Short durations keep it fast: a 10-s rolling buffer, 2 s of pre-roll and 3 s of post-roll.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.conftest import require_binary, wait_for
from tests.fakefcm import FakeFcm, Reply, running_fake
from tests.stack.harness import (
    TOKEN,
    Server,
    decode_errors,
    device_token,
    now_ms,
    probe,
    spawn,
    stop,
)

pytestmark = pytest.mark.stack

KEYS = {"front": "front-stream-key-0123456789", "yard": "yard-stream-key-0123456789"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRE_S, POST_S, BUFFER_S = 2, 3, 10


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeFcm]:
    with running_fake() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeFcm) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("events")
    credentials = fake.service_account(root / "service-account.json")
    server = Server(
        root,
        KEYS,
        buffer_seconds=BUFFER_S,
        fcm_url=fake.fcm_url,
        extra={
            "public_url": "http://public.example:8000",
            "events": {
                "pre_roll_s": PRE_S,
                "post_roll_s": POST_S,
                "max_clip_s": 10,
                "media_wait_s": 5,
            },
            # Each test here follows one ring's pushes: none collapsed into another test's.
            "push": {"credentials_file": str(credentials), "ring_collapse_s": 0},
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def agent(server: Server) -> Iterator[Path]:
    """The doorbell agent, test profile, a still scene (no motion of its own) as `front`.
    Yields its config file, which `doorbell-agent ring --config` uses too."""
    require_binary("gst-launch-1.0")
    state = server.root / "agent"
    state.mkdir()
    config = state / "agent.toml"
    values = {
        "camera": "front",
        "relay_url": f"rtmp://127.0.0.1:{server.rtmp_port}/live",
        "stream_key": KEYS["front"],
        "api_url": server.base,
        "device_token": device_token("front"),
        "source": "test",
        "test_pattern": "smpte75",
        "width": 640,
        "height": 480,
        "bitrate_kbps": 1000,
        "outbox_path": str(state / "outbox.sqlite3"),
        "status_path": str(state / "status.json"),
    }
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    proc = spawn([sys.executable, "-m", "agent", "run", "--config", str(config)], state / "log")
    try:
        wait_for("front online", lambda: server.camera("front")["online"], 30)
        wait_for("2 s of video", lambda: server.camera("front")["buffer"]["seconds"] >= 2, 30)
        yield config
    finally:
        stop(proc)


def post_event(
    server: Server, camera: str = "front", kind: str = "ring", **fields: Any
) -> httpx.Response:
    body = {"id": str(uuid.uuid4()), "camera": camera, "kind": kind, "at_ms": now_ms(),
            "clock_offset_ms": 0, **fields}  # fmt: skip
    token = fields.pop("token", None) or device_token(camera)
    body.pop("token", None)
    return httpx.post(
        f"{server.base}/api/v1/agent/events",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def register(server: Server, token: str, **prefs: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base}/api/v1/devices",
        json={"token": token, "platform": "android", "name": f"phone {token}", **prefs},
        headers=AUTH,
        timeout=5,
    )
    assert response.status_code in {200, 201}, response.text
    body: dict[str, Any] = response.json()
    return body


def event(server: Server, event_id: str) -> dict[str, Any]:
    response = server.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def attempts(server: Server, event_id: str, token: str) -> list[tuple[int, str]]:
    deliveries = event(server, event_id)["deliveries"]
    return [
        (d["attempt"], d["outcome"]) for d in deliveries if d["device_name"] == f"phone {token}"
    ]


def alerts(fake: FakeFcm, token: str, event_id: str) -> list[dict[str, Any]]:
    return [
        r.body["message"] for r in fake.sends(token)
        if r.body["message"].get("data", {}).get("event_id") == event_id
        and r.body["message"]["data"].get("type") == "alert" and r.status == 200
    ]  # fmt: skip


def test_a_ring_from_the_agent_is_pushed_with_an_image(
    server: Server, agent: Path, fake: FakeFcm
) -> None:
    register(server, "tok-ring", cameras=["front"], motion=False)
    out = subprocess.run(
        [sys.executable, "-m", "agent", "ring", "--config", str(agent)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    event_id = out.stdout.split()[1]
    [message] = wait_for("the ring at the fake FCM", lambda: alerts(fake, "tok-ring", event_id), 15)
    android = message["android"]
    assert android["priority"] == "high"
    assert android["collapse_key"] == "ring-front"
    assert 50 <= int(android["ttl"].rstrip("s")) <= 60  # the TTL left of 60 s
    assert message["apns"]["headers"]["apns-priority"] == "10"
    assert message["apns"]["headers"]["apns-collapse-id"] == "ring-front"
    data = message["data"]
    assert (data["event_id"], data["camera"], data["kind"]) == (event_id, "front", "ring")
    assert data["link"] == f"doorbell://events/{event_id}"
    image = android["notification"]["image"]
    assert image.startswith(f"http://public.example:8000/api/v1/events/{event_id}/snapshot.jpg?")
    # The phone fetches it without a token: the signed URL alone must do.
    fetched = httpx.get(server.base + image.removeprefix("http://public.example:8000"), timeout=20)
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "image/jpeg"
    jpeg = server.root / "ring.jpg"
    jpeg.write_bytes(fetched.content)
    with av.open(str(jpeg)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (640, 480)
    detail = wait_for(
        "the delivery logged",
        lambda: (d := event(server, event_id))["deliveries"] and d,
        10,
    )
    assert [(d["attempt"], d["outcome"]) for d in detail["deliveries"]] == [(1, "sent")]
    assert detail["deliveries"][0]["message_id"].startswith("projects/")


def test_the_event_clip_covers_pre_to_post_roll_and_outlives_the_buffer(
    server: Server, agent: Path
) -> None:
    at = now_ms()
    response = post_event(server, at_ms=at)
    assert response.status_code == 201, response.text
    event_id = response.json()["id"]
    ready = wait_for(
        "the event clip",
        lambda: (e := event(server, event_id))["clip"]["state"] == "ready" and e,
        POST_S + 15,
    )
    clip = ready["clip"]
    assert clip["start_ms"] <= at - PRE_S * 1000 + 1000
    assert clip["end_ms"] >= at + POST_S * 1000 - 1000
    assert ready["snapshot"]["state"] == "ready"
    first = server.get(clip["url"])
    assert first.status_code == 200
    assert first.headers["content-type"] == "video/mp4"
    path = server.root / f"{event_id}.mp4"
    path.write_bytes(first.content)
    info = probe(path)
    assert abs(float(info["format"]["duration"]) - (PRE_S + POST_S)) <= 1.5
    assert info["first_frame"]["key_frame"] == 1
    assert decode_errors(path) == ""
    assert first.content[4:8] == b"ftyp"
    assert b"moov" in first.content[:4096]  # faststart
    # The rolling buffer moves past the clip; the saved clip stays.
    wait_for(
        "the buffer to move past the clip",
        lambda: server.camera("front")["buffer"]["start_ms"] > clip["end_ms"],
        BUFFER_S + 15,
    )
    again = server.get(clip["url"])
    assert again.content == first.content
    part = httpx.get(
        server.base + clip["url"], headers={**AUTH, "Range": "bytes=100-199"}, timeout=5
    )
    assert part.status_code == 206
    assert part.content == first.content[100:200]


def test_a_motion_burst_inside_the_cooldown_is_pushed_once(server: Server, fake: FakeFcm) -> None:
    register(server, "tok-motion", cameras=["yard"], motion=True)
    register(server, "tok-no-motion", cameras=["yard"], motion=False)
    ids = []
    for kind in ("motion_start", "motion_end", "motion_start", "motion_end", "motion_start"):
        response = post_event(server, "yard", kind, score=0.05, box=[0.1, 0.1, 0.2, 0.2])
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    wait_for("the motion push", lambda: alerts(fake, "tok-motion", ids[0]), 15)
    # Give the later events the same chance to be (wrongly) pushed.
    wait_for("the last event stored", lambda: event(server, ids[-1])["id"], 5)
    time.sleep(1.0)  # bounded: absence of a push cannot be awaited
    pushed = [m for m in fake.sends("tok-motion") if m.body["message"]["data"]["type"] == "alert"]
    assert [m.body["message"]["data"]["event_id"] for m in pushed] == [ids[0]]
    assert fake.sends("tok-no-motion") == []
    # Each motion_start was closed by the motion_end after it.
    assert event(server, ids[0])["ended_at_ms"] is not None


def test_an_unregistered_token_is_deleted_after_one_send(server: Server, fake: FakeFcm) -> None:
    fake.respond("tok-dead", [Reply(404)])
    register(server, "tok-dead", cameras=["yard"])
    assert post_event(server, "yard").status_code == 201

    def gone() -> bool:
        devices = server.get("/api/v1/devices").json()["devices"]
        return all(d["token_suffix"] != "tok-dead"[-8:] for d in devices)

    wait_for("the dead device deleted", gone, 15)
    assert len(fake.sends("tok-dead")) == 1


def test_unavailable_then_ok_is_retried_and_delivered(server: Server, fake: FakeFcm) -> None:
    fake.respond("tok-flaky", [503, 200])
    register(server, "tok-flaky", cameras=["yard"], motion=False)
    response = post_event(server, "yard")
    event_id = response.json()["id"]
    wait_for("the retry", lambda: alerts(fake, "tok-flaky", event_id), 20)
    outcomes = wait_for(
        "both attempts logged", lambda: attempts(server, event_id, "tok-flaky")[1:] and True, 10
    )
    assert outcomes is True
    outcomes = attempts(server, event_id, "tok-flaky")
    assert outcomes == [(1, "unavailable"), (2, "sent")]


def test_with_fcm_down_events_are_stored_and_pushes_retried(server: Server, fake: FakeFcm) -> None:
    register(server, "tok-patient", cameras=["yard"], motion=False)
    fake.down()
    try:
        response = post_event(server, "yard")
        assert response.status_code == 201, response.text
        event_id = response.json()["id"]
        wait_for(
            "a failed attempt logged",
            lambda: any(
                d["outcome"] == "unavailable" for d in event(server, event_id)["deliveries"]
            ),
            15,
        )
    finally:
        fake.up()
    wait_for("the push after FCM is back", lambda: alerts(fake, "tok-patient", event_id), 30)
    assert event(server, event_id)["kind"] == "ring"


def test_a_repeated_event_id_is_stored_once(server: Server) -> None:
    event_id, at_ms = str(uuid.uuid4()), now_ms()
    first = post_event(server, "yard", id=event_id, at_ms=at_ms)
    again = post_event(server, "yard", id=event_id, at_ms=at_ms)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert "server_time_ms" in again.json()
    listed = server.get("/api/v1/events?camera=yard&limit=200").json()["events"]
    assert [e["id"] for e in listed].count(event_id) == 1
    reused = post_event(server, "yard", "motion_start", id=event_id, at_ms=at_ms)
    assert reused.status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"kind": "knock"}, 422, "kind"),
        ({"id": "not-a-uuid"}, 422, "id"),
        ({"at_ms": "soon"}, 422, "at_ms"),
        ({"camera": "attic"}, 422, "unknown camera"),
        ({"camera": "front"}, 403, "for camera 'yard'"),
        ({"at_ms": 10**13, "clock_offset_ms": 0}, 422, "ahead"),
        ({"at_ms": 5000, "clock_offset_ms": None}, 425, "clock_offset_ms"),
        ({"token": "wrong-device-token-0123456789"}, 401, "device token"),
        ({"score": 7}, 422, "score"),
        ({"extra": "field"}, 422, "extra"),
        ({"note": "x" * 5000}, 413, "too large"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_stored(
    server: Server, change: dict[str, Any], status: int, says: str
) -> None:
    event_id = str(uuid.uuid4())
    body: dict[str, Any] = {"id": event_id, "camera": "yard", "kind": "ring",
                            "at_ms": now_ms(), "clock_offset_ms": 0}  # fmt: skip
    token = change.pop("token", device_token("yard"))
    body |= change
    if body.get("clock_offset_ms") is None:
        body.pop("clock_offset_ms")
    response = httpx.post(
        f"{server.base}/api/v1/agent/events",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert "server_time_ms" in response.json()
    if body["id"] == event_id:
        assert server.get(f"/api/v1/events/{event_id}").status_code == 404


def test_open_apps_hear_new_events(server: Server) -> None:
    with httpx.stream(
        "GET", f"{server.base}/api/v1/events/stream", headers=AUTH, timeout=10
    ) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        event_id = post_event(server, "yard").json()["id"]
        deadline = time.monotonic() + 10
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = next(lines)
            seen.append(line)
            if line == f"id: {event_id}":
                assert next(lines) == "event: event"
                data = json.loads(next(lines).removeprefix("data: "))
                assert (data["id"], data["kind"], data["camera"]) == (event_id, "ring", "yard")
                return
    pytest.fail(f"no notice for {event_id}: {seen}")


def test_listing_filters_and_pages(server: Server) -> None:
    ids = [post_event(server, "yard", at_ms=now_ms() - 5000 + i).json()["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        query = "camera=yard&kind=ring&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = server.get(f"/api/v1/events?{query}").json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in ids] == ids[::-1]  # newest first
    assert server.get("/api/v1/events?kind=knock").status_code == 422
    assert server.get("/api/v1/events?limit=0").status_code == 422
    assert server.get("/api/v1/events?cursor=bogus").status_code == 422


def test_metrics_count_events_and_pushes(server: Server) -> None:
    text = server.get("/metrics").text
    assert 'doorbell_events_total{camera="yard",kind="ring"}' in text
    assert 'doorbell_push_attempts_total{outcome="sent"}' in text
    count = next(
        line
        for line in text.splitlines()
        if line.startswith("doorbell_event_to_push_seconds_count")
    )
    assert int(count.split()[1]) >= 1


def test_delete_and_clear_remove_the_files(server: Server, agent: Path) -> None:
    event_id = post_event(server).json()["id"]
    ready = wait_for(
        "snapshot and clip",
        lambda: (e := event(server, event_id))["clip"]["state"] == "ready" and e,
        POST_S + 15,
    )
    assert ready["snapshot"]["state"] == "ready"
    media = server.root / "data" / "media"
    files = sorted(p.name for p in media.rglob(f"{event_id}.*"))
    assert files == [f"{event_id}.jpg", f"{event_id}.mp4"]
    response = httpx.post(
        f"{server.base}/api/v1/events/delete",
        json={"ids": [event_id, str(uuid.uuid4())]},
        headers=AUTH,
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] == [event_id]
    assert len(response.json()["not_found"]) == 1
    assert list(media.rglob(f"{event_id}.*")) == []
    assert server.get(f"/api/v1/events/{event_id}").status_code == 404

    assert post_event(server, "yard").status_code == 201
    cleared = httpx.delete(f"{server.base}/api/v1/events", headers=AUTH, timeout=10)
    assert cleared.status_code == 200
    assert cleared.json()["deleted"] >= 1
    assert server.get("/api/v1/events").json()["events"] == []
    wait_for("no media files left", lambda: not [p for p in media.rglob("*") if p.is_file()], 10)
