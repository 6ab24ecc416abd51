"""/api/v1/cameras and the /api/v1 access rules, in process."""

from __future__ import annotations

import uuid

import pytest

from api.http.signing import UrlSigner
from common.clock import wall_ms
from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio


async def test_cameras_show_name_state_and_buffer(server: InProcess) -> None:
    response = await server.client.get("/api/v1/cameras")
    assert response.status_code == 200
    [camera] = response.json()
    assert (camera["id"], camera["name"], camera["online"]) == ("front", "Front door", False)
    assert camera["buffer"]["seconds"] == 60.0
    assert camera["buffer"]["end_ms"] == server.buffer.newest_ms
    # Offline since its last video: no publisher was ever seen.
    assert camera["since_ms"] == server.buffer.newest_ms
    assert camera["last_event"] is None
    assert (await server.client.get("/api/v1/cameras/front")).json() == camera


async def test_a_camera_shows_its_newest_event(server: InProcess) -> None:
    ids = []
    for at_ms in (wall_ms() - 5000, wall_ms() - 1000):
        event = {"id": str(uuid.uuid4()), "camera": "front", "kind": "motion_end",
                 "at_ms": at_ms, "clock_offset_ms": 0}  # fmt: skip
        assert (await server.agent_post(event)).status_code == 201
        ids.append((event["id"], at_ms))
    camera = (await server.client.get("/api/v1/cameras/front")).json()
    assert camera["last_event"] == {"id": ids[1][0], "kind": "motion_end", "at_ms": ids[1][1]}


async def test_an_unknown_camera_is_404_naming_the_known_ones(server: InProcess) -> None:
    response = await server.client.get("/api/v1/cameras/back")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown camera 'back'", "allowed": ["front"]}


async def test_without_a_token_401_says_how_to_authenticate(server: InProcess) -> None:
    response = await server.anonymous.get("/api/v1/cameras")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]
    wrong = await server.anonymous.get("/api/v1/cameras", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert wrong.json() == {"detail": "invalid bearer token"}


async def test_a_signed_url_works_without_a_token_until_it_expires(server: InProcess) -> None:
    key = server.settings.signing_key
    signed = UrlSigner(key, 600).sign("/api/v1/cameras/front")
    assert (await server.anonymous.get(signed)).status_code == 200
    expired = UrlSigner(key, 600, clock=lambda: 1000.0).sign("/api/v1/cameras/front")
    response = await server.anonymous.get(expired)
    assert response.status_code == 403
    assert response.json() == {"detail": "signed URL expired"}
    other_path = signed.replace("/cameras/front", "/cameras")
    assert (await server.anonymous.get(other_path)).json() == {"detail": "invalid URL signature"}
