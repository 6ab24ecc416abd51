"""/api/v1/devices: register (upsert by token), list, delete, and bad input, in process."""

from __future__ import annotations

import pytest

from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio

PHONE = {"token": "fcm-token-0123456789", "platform": "android", "name": "Pixel"}


async def test_register_update_list_delete(server: InProcess) -> None:
    created = await server.client.post("/api/v1/devices", json=PHONE)
    assert created.status_code == 201
    device = created.json()
    assert (device["name"], device["token_suffix"], device["cameras"]) == (
        "Pixel",
        "23456789",
        None,
    )
    again = await server.client.post(
        "/api/v1/devices", json={**PHONE, "name": "Pixel 9", "cameras": ["front", "front"]}
    )
    assert again.status_code == 200
    assert again.json()["id"] == device["id"]
    assert again.json()["cameras"] == ["front"]
    listed = (await server.client.get("/api/v1/devices")).json()["devices"]
    assert [d["name"] for d in listed] == ["Pixel 9"]
    assert (await server.client.delete(f"/api/v1/devices/{device['id']}")).status_code == 204
    assert (await server.client.get("/api/v1/devices")).json() == {"devices": []}
    gone = await server.client.delete(f"/api/v1/devices/{device['id']}")
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"unknown device {device['id']!r}"


@pytest.mark.parametrize(
    ("body", "parameter", "words"),
    [
        ({**PHONE, "cameras": ["back"]}, "cameras", "unknown camera 'back'"),
        (
            {**PHONE, "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Base"}},
            "quiet_hours.timezone",
            "IANA",
        ),
        ({**PHONE, "platform": "fridge"}, "body.platform", "android"),
        ({"platform": "web"}, "body.token", "Field required"),
    ],
)
async def test_bad_registrations_are_422_naming_the_field(
    server: InProcess, body: dict[str, object], parameter: str, words: str
) -> None:
    response = await server.client.post("/api/v1/devices", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["parameter"] == parameter
    assert words in problem["detail"]
    assert (await server.client.get("/api/v1/devices")).json() == {"devices": []}


async def test_a_body_that_is_not_json_is_422(server: InProcess) -> None:
    response = await server.client.post(
        "/api/v1/devices", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["parameter"].startswith("body")
