"""The event history in process: a ring's snapshot, clip and push, reading, filters, pages,
deletion and the live stream of notices."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from api.events.hub import MAX_SUBSCRIBERS
from common.clock import wall_ms
from tests.api.conftest import InProcess
from tests.api.fakes import JPEG

pytestmark = pytest.mark.anyio


async def post(server: InProcess, kind: str = "ring", at_ms: int | None = None) -> str:
    event_id = str(uuid.uuid4())
    at = wall_ms() - 1000 if at_ms is None else at_ms
    payload = {"id": event_id, "camera": "front", "kind": kind, "at_ms": at, "clock_offset_ms": 0}
    response = await server.agent_post(payload)
    assert response.status_code == 201, response.text
    return event_id


async def until(
    server: InProcess, event_id: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The event once `check` holds (bounded: the recorder and push run in the background)."""
    async with asyncio.timeout(20):
        while True:
            body: dict[str, Any] = (await server.client.get(f"/api/v1/events/{event_id}")).json()
            if check(body):
                return body
            await asyncio.sleep(0.02)  # polling interval of a bounded wait


async def test_a_ring_gets_snapshot_clip_and_a_logged_push(server: InProcess) -> None:
    device = {"token": "push-token-0123456789", "platform": "android", "name": "Pixel"}
    assert (await server.client.post("/api/v1/devices", json=device)).status_code == 201
    event_id = await post(server)
    # The clip needs the post-roll (1 s) in the buffer: the camera sends it now.
    await server.buffer.grow_to(wall_ms() + 2000)
    body = await until(server, event_id, lambda e: e["clip"]["state"] == "ready")
    assert body["snapshot"]["state"] == "ready"
    snapshot = await server.client.get(body["snapshot"]["url"])
    assert (snapshot.status_code, snapshot.content) == (200, JPEG)
    clip = await server.client.get(body["clip"]["url"])
    assert clip.status_code == 200
    assert len(clip.content) == body["clip"]["bytes"]
    assert (await server.anonymous.get(body["clip"]["signed_url"])).content == clip.content
    body = await until(server, event_id, lambda e: len(e["deliveries"]) >= 2)
    assert [(d["message"], d["outcome"]) for d in body["deliveries"]] == [
        ("alert", "sent"),
        ("clip_ready", "sent"),
    ]
    alert, devices = server.notifier.sent[0]
    assert (alert.title, [d.token for d in devices]) == (
        "Someone is at the door",
        [device["token"]],
    )
    assert alert.image_url is not None
    assert alert.image_url.startswith(f"https://door.example/api/v1/events/{event_id}/snapshot")


async def test_filters_and_cursor_pages(server: InProcess) -> None:
    now = wall_ms()
    rings = [await post(server, "ring", now - 10_000 + i) for i in range(3)]
    motion = await post(server, "motion_start", now - 5000)
    page = (await server.client.get("/api/v1/events", params={"kind": "ring", "limit": 2})).json()
    assert [e["id"] for e in page["events"]] == [rings[2], rings[1]]
    rest = await server.client.get(
        "/api/v1/events", params={"kind": "ring", "limit": 2, "cursor": page["next_cursor"]}
    )
    assert [e["id"] for e in rest.json()["events"]] == [rings[0]]
    assert rest.json()["next_cursor"] is None
    motions = await server.client.get("/api/v1/events", params={"kind": "motion_start,motion_end"})
    assert [e["id"] for e in motions.json()["events"]] == [motion]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": "0"}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"kind": "knock"}, "kind"),
        ({"camera": "../x"}, "camera"),
        ({"start": "soon"}, "start"),
        ({"cursor": "%%%"}, "cursor"),
    ],
)
async def test_bad_filters_are_422(
    server: InProcess, params: dict[str, str], parameter: str
) -> None:
    response = await server.client.get("/api/v1/events", params=params)
    assert response.status_code == 422
    assert response.json()["parameter"] == parameter


async def test_unknown_and_malformed_event_ids(server: InProcess) -> None:
    unknown = str(uuid.uuid4())
    for path in ("", "/snapshot.jpg", "/clip.mp4"):
        missing = await server.client.get(f"/api/v1/events/{unknown}{path}")
        assert (missing.status_code, missing.json()["detail"]) == (
            404,
            f"unknown event {unknown!r}",
        )
        malformed = await server.client.get(f"/api/v1/events/NOT-A-UUID{path}")
        assert (malformed.status_code, malformed.json()["parameter"]) == (422, "event_id")


async def test_motion_end_has_no_media_and_says_so(server: InProcess) -> None:
    event_id = await post(server, "motion_end")
    snapshot = await server.client.get(f"/api/v1/events/{event_id}/snapshot.jpg")
    assert snapshot.status_code == 404
    assert snapshot.json() == {"detail": "this event has no snapshot (state none)", "state": "none"}
    clip = await server.client.get(f"/api/v1/events/{event_id}/clip.mp4")
    assert (clip.status_code, clip.json()["state"]) == (404, "none")


async def test_a_pending_clip_is_404_with_when_to_ask_again(server: InProcess) -> None:
    event_id = await post(server)  # the buffer holds no post-roll yet
    clip = await server.client.get(f"/api/v1/events/{event_id}/clip.mp4")
    assert (clip.status_code, clip.json()["state"]) == (404, "pending")
    assert clip.headers["retry-after"] == "3"


async def test_delete_some_then_clear(server: InProcess) -> None:
    ids = [await post(server, "motion_end", wall_ms() - i) for i in range(3)]
    unknown = str(uuid.uuid4())
    deleted = await server.client.post("/api/v1/events/delete", json={"ids": [ids[0], unknown]})
    assert deleted.json() == {"deleted": [ids[0]], "not_found": [unknown]}
    bad = await server.client.post("/api/v1/events/delete", json={"ids": ["x"]})
    assert (bad.status_code, bad.json()["parameter"]) == (422, "ids")
    assert (await server.client.delete("/api/v1/events")).json() == {"deleted": 2}
    assert (await server.client.get("/api/v1/events")).json()["events"] == []


async def test_open_apps_hear_of_new_and_deleted_events(server: InProcess) -> None:
    async with asyncio.timeout(20), server.stream("/api/v1/events/stream") as lines:
        assert await anext(lines) == "retry: 3000"  # subscribed from here on
        event_id = await post(server, "motion_end")
        await server.client.post("/api/v1/events/delete", json={"ids": [event_id]})
        messages = []
        async for line in lines:
            if line.startswith(("event: ", "data: ")):
                messages.append(line)
            if len(messages) == 4:
                break
    assert messages[0] == "event: event"
    assert json.loads(messages[1].removeprefix("data: "))["id"] == event_id
    assert messages[2:] == ["event: events_deleted", f'data: {{"ids":["{event_id}"]}}']


async def test_the_event_stream_cap_is_exact_under_concurrency(server: InProcess) -> None:
    """200 apps open the stream at once against a cap of 100 (MAX_SUBSCRIBERS): exactly 100
    get it (the old check-then-subscribe let 115 in), and every place comes back."""
    async with server.held_open("/api/v1/events/stream", 200) as statuses:
        assert statuses.count(200) == MAX_SUBSCRIBERS
        assert statuses.count(503) == 200 - MAX_SUBSCRIBERS
    async with server.held_open("/api/v1/events/stream", MAX_SUBSCRIBERS) as again:
        assert again == [200] * MAX_SUBSCRIBERS
