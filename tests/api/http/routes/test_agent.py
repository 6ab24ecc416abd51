"""POST /api/v1/agent/events in process: every answer carries the server's clock, and each
refusal says what was wrong (the statuses are what the agent's uplink acts on)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from api.config import Settings
from common.clock import wall_ms
from tests.api.conftest import InProcess, serve, settings_for
from tests.conftest import eventually

pytestmark = pytest.mark.anyio


def ring(**changes: object) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "camera": "front",
        "kind": "ring",
        "at_ms": wall_ms(),
        **changes,
    }


async def test_a_ring_is_stored_once_and_a_repeat_is_200(server: InProcess) -> None:
    event = ring(clock_offset_ms=0)
    first = await server.agent_post(event)
    assert first.status_code == 201
    body = first.json()
    assert (body["id"], body["duplicate"], body["at_ms"]) == (event["id"], False, event["at_ms"])
    assert abs(body["server_time_ms"] - wall_ms()) < 60_000
    again = await server.agent_post(event)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    listed = (await server.client.get("/api/v1/events")).json()["events"]
    assert [e["id"] for e in listed] == [event["id"]]


async def test_the_clock_offset_places_the_event_on_the_server_clock(server: InProcess) -> None:
    agent_now = wall_ms() - 3_600_000  # an agent an hour slow
    response = await server.agent_post(ring(at_ms=agent_now, clock_offset_ms=3_600_000))
    assert response.status_code == 201
    assert response.json()["at_ms"] == agent_now + 3_600_000


@pytest.mark.parametrize(
    ("token", "status", "challenge"),
    [("", 401, "Bearer"), ("someone-elses-token", 401, "Bearer")],
)
async def test_no_or_unknown_device_token_is_401_with_the_clock(
    server: InProcess, token: str, status: int, challenge: str
) -> None:
    response = await server.agent_post(ring(), token=token)
    assert response.status_code == status
    assert response.headers["www-authenticate"] == challenge
    body = response.json()
    assert "device_token" in body["detail"]
    assert isinstance(body["server_time_ms"], int)


async def test_a_different_event_under_a_known_id_is_409(server: InProcess) -> None:
    event = ring()
    assert (await server.agent_post(event)).status_code == 201
    clash = await server.agent_post({**event, "kind": "motion_start"})
    assert clash.status_code == 409
    assert "already exists as a different event" in clash.json()["detail"]
    assert isinstance(clash.json()["server_time_ms"], int)


@pytest.mark.parametrize(
    ("changes", "parameter", "words"),
    [
        ({"kind": "knock"}, "kind", "ring"),
        ({"id": "not-a-uuid"}, "id", "pattern"),
        ({"box": [0.1, 0.2, 1.5, 0.1]}, "box.2", "less than or equal to 1"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"camera": "back"}, "camera", "unknown camera 'back'"),
        ({"at_ms": wall_ms() + 3_600_000, "clock_offset_ms": 0}, "at_ms", "ahead"),
    ],
)
async def test_events_that_can_never_be_stored_are_422(
    server: InProcess, changes: dict[str, object], parameter: str, words: str
) -> None:
    response = await server.agent_post(ring(**changes))
    assert response.status_code == 422
    body = response.json()
    assert body["parameter"] == parameter
    assert words in body["detail"]
    assert isinstance(body["server_time_ms"], int)
    assert (await server.client.get("/api/v1/events")).json()["events"] == []


async def test_an_unknown_kind_lists_the_kinds_allowed(server: InProcess) -> None:
    body = (await server.agent_post(ring(kind="knock"))).json()
    assert body["allowed"] == ["ring", "motion_start", "motion_end"]
    assert body["errors"] == [{"field": "kind", "problem": body["errors"][0]["problem"]}]


async def test_a_far_time_without_an_offset_asks_for_one_with_425(server: InProcess) -> None:
    response = await server.agent_post(ring(at_ms=wall_ms() - 30 * 86_400_000))
    assert response.status_code == 425
    body = response.json()
    assert "measure it from this answer's server_time_ms" in body["detail"]
    assert isinstance(body["server_time_ms"], int)


async def test_a_large_body_is_refused_before_it_is_read(server: InProcess) -> None:
    limit = server.settings.events.max_body_bytes
    response = await server.agent_post(ring(pad="x" * (limit + 1)))
    assert response.status_code == 413
    assert response.json()["detail"] == f"body too large: at most {limit} bytes"


async def test_an_app_token_is_not_a_device_token(server: InProcess) -> None:
    from tests.api.conftest import TOKEN

    response = await server.agent_post(ring(), token=TOKEN)
    assert response.status_code == 401


async def test_the_agent_asks_the_server_time_with_its_device_token(server: InProcess) -> None:
    from tests.api.conftest import DEVICE_TOKEN

    before = wall_ms()
    answer = await server.anonymous.get(
        "/api/v1/agent/time", headers={"Authorization": f"Bearer {DEVICE_TOKEN}"}
    )
    assert answer.status_code == 200
    assert before <= answer.json()["server_time_ms"] <= wall_ms()
    refused = await server.anonymous.get("/api/v1/agent/time")
    assert refused.status_code == 401
    assert isinstance(refused.json()["server_time_ms"], int)


async def test_a_burst_of_rings_is_all_stored_but_pushed_once(
    tier_settings: Settings, tmp_path: Path
) -> None:
    """30 rings from one device token in a fraction of a second made 30 high-priority pushes;
    now every ring is stored, and the rings within push.ring_collapse_s of the camera's last
    ring push make none of their own. One push at a time (push.concurrency 1), so once the
    motion push posted after the rings is sent, every push before it has been."""
    push = {"web_push_local": True, "concurrency": 1}
    settings = settings_for(tmp_path / "burst", tmp_path / "doorbell.db", push=push)
    assert settings.database == tier_settings.database  # the copy of the migrated one
    async with serve(settings) as server:
        device = {"token": "push-token-0123456789", "platform": "android", "name": "Pixel"}
        assert (await server.client.post("/api/v1/devices", json=device)).status_code == 201
        rings = [ring() for _ in range(30)]
        for event in rings:
            assert (await server.agent_post(event)).status_code == 201
        assert (await server.agent_post(ring(kind="motion_start"))).status_code == 201
        stored = await server.client.get("/api/v1/events", params={"kind": "ring", "limit": 50})
        assert len(stored.json()["events"]) == 30
        sent = server.notifier.sent
        await eventually(
            "the motion push", lambda: any(m.event.kind == "motion_start" for m, _ in sent), 10
        )
        pushed = [m.event.id for m, _ in server.notifier.sent if m.event.kind == "ring"]
        assert pushed == [rings[0]["id"]]
