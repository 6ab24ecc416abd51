"""/api/v1/devices: register (upsert by FCM token or Web Push endpoint), list, delete, and bad
input; /api/v1/push/web, the VAPID key browsers subscribe with. In process."""

from __future__ import annotations

import base64
import os
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.config import Settings
from tests.api.conftest import InProcess, serve

pytestmark = pytest.mark.anyio

PHONE = {"token": "fcm-token-0123456789", "platform": "android", "name": "Pixel"}
ENDPOINT = "https://push.example.net/wpush/v2/gAAAAABnZ0123456789"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """A browser's subscription keys: a fresh P-256 public key and auth secret."""
    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(public), "auth": b64url(os.urandom(16))}


def browser(endpoint: str = ENDPOINT, **changes: Any) -> dict[str, Any]:
    """A browser's registration body, as the web app sends it."""
    body: dict[str, Any] = {
        "platform": "web",
        "name": "Firefox on the laptop",
        "web_push": {"endpoint": endpoint, "keys": browser_keys()},
    }
    body.update(changes)
    return body


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
        ({"platform": "web"}, "token", "token (an FCM registration token) or web_push"),
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


async def test_a_browser_subscribes_updates_and_unsubscribes(server: InProcess) -> None:
    phone = (await server.client.post("/api/v1/devices", json=PHONE)).json()
    assert phone["channel"] == "fcm"
    created = await server.client.post("/api/v1/devices", json=browser())
    assert created.status_code == 201
    device = created.json()
    assert (device["platform"], device["channel"], device["token_suffix"]) == (
        "web", "web_push", ENDPOINT[-8:],
    )  # fmt: skip
    assert "keys" not in str(device)  # the subscription's secrets are never shown
    # The browser renewed its keys (or its preferences): the same endpoint is the same device.
    again = await server.client.post(
        "/api/v1/devices", json=browser(cameras=["front"], motion=False)
    )
    assert again.status_code == 200
    assert again.json()["id"] == device["id"]
    assert (again.json()["cameras"], again.json()["motion"]) == (["front"], False)
    listed = (await server.client.get("/api/v1/devices")).json()["devices"]
    assert [(d["id"], d["channel"]) for d in listed] == [
        (phone["id"], "fcm"), (device["id"], "web_push"),
    ]  # fmt: skip
    assert (await server.client.delete(f"/api/v1/devices/{device['id']}")).status_code == 204
    listed = (await server.client.get("/api/v1/devices")).json()["devices"]
    assert [d["id"] for d in listed] == [phone["id"]]


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8090/push/s1",  # a push service on this machine (tests)
        "http://localhost:8090/push/s1",
        "http://[::1]:8090/push/s1",
        "https://web.push.apple.com/QGx0ZXN0",
        "https://fcm.googleapis.com/fcm/send/abc:APA91b",
    ],
)
async def test_endpoints_that_are_accepted(server: InProcess, endpoint: str) -> None:
    response = await server.client.post("/api/v1/devices", json=browser(endpoint))
    assert response.status_code == 201, response.json()


async def test_a_local_endpoint_needs_the_setting(tier_settings: Settings) -> None:
    """The server POSTs to the endpoint: one on this machine only when the admin says so."""
    settings = tier_settings.model_copy(
        update={"push": tier_settings.push.model_copy(update={"web_push_local": False})}
    )
    async with serve(settings) as strict:
        local = await strict.client.post("/api/v1/devices", json=browser("http://[::1]:80/p/1"))
        remote = await strict.client.post("/api/v1/devices", json=browser("https://a.example/x"))
    assert local.status_code == 422
    assert local.json()["parameter"] == "web_push.endpoint"
    assert "push.web_push_local" in local.json()["detail"]
    assert remote.status_code == 201


async def test_a_subscription_as_the_browser_serialises_it_is_accepted(server: InProcess) -> None:
    body = browser()
    body["web_push"]["expirationTime"] = None  # PushSubscription.toJSON() has it
    keys = body["web_push"]["keys"]
    keys["auth"] += "=="  # padded base64url is read too, and stored unpadded
    assert (await server.client.post("/api/v1/devices", json=body)).status_code == 201


def _with(field: str, value: object) -> dict[str, Any]:
    body = browser()
    if field in ("p256dh", "auth"):
        body["web_push"]["keys"][field] = value
    elif field == "keys":
        del body["web_push"]["keys"]
    else:
        body["web_push"][field] = value
    return body


@pytest.mark.parametrize(
    ("body", "parameter", "words"),
    [
        (_with("endpoint", "http://push.example.net/x"), "body.web_push.endpoint", "https://"),
        (_with("endpoint", "ftp://push.example.net/x"), "body.web_push.endpoint", "https://"),
        (_with("endpoint", "https:///x"), "body.web_push.endpoint", "with a host"),
        (_with("endpoint", "https://u:pw@push.example.net/x"), "body.web_push.endpoint",
         "user info"),
        (_with("endpoint", "https://push.example.net/x#f"), "body.web_push.endpoint", "fragment"),
        (_with("endpoint", "https://push.example.net:99999/x"), "body.web_push.endpoint", "port"),
        (_with("endpoint", "https://push.example.net/a b"), "body.web_push.endpoint", "spaces"),
        (_with("endpoint", "https://push.example.net/" + "x" * 2048), "body.web_push.endpoint",
         "2048"),
        (_with("endpoint", ""), "body.web_push.endpoint", "at least 1"),
        (_with("p256dh", "not base64!"), "body.web_push.keys.p256dh", "base64url"),
        (_with("p256dh", b64url(b"\x04" + b"\x01" * 63)), "body.web_push.keys.p256dh",
         "65 bytes"),
        (_with("p256dh", b64url(b"\x04" + b"\x00" * 64)), "body.web_push.keys.p256dh",
         "P-256"),
        (_with("p256dh", "A" * 101), "body.web_push.keys.p256dh", "at most 100"),
        (_with("auth", b64url(b"\x00" * 15)), "body.web_push.keys.auth", "16 bytes"),
        (_with("auth", "a=b"), "body.web_push.keys.auth", "base64url"),
        (_with("keys", None), "body.web_push.keys", "Field required"),
        (browser(platform="android"), "platform", "platform must be web"),
        (browser(token="fcm-token-0123456789"), "web_push", "not both"),
    ],
)  # fmt: skip
async def test_bad_subscriptions_are_422_naming_the_field(
    server: InProcess, body: dict[str, object], parameter: str, words: str
) -> None:
    response = await server.client.post("/api/v1/devices", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["parameter"] == parameter
    assert words in problem["detail"]
    assert (await server.client.get("/api/v1/devices")).json() == {"devices": []}


async def test_the_web_push_key_is_the_servers_vapid_key(
    server: InProcess, tier_settings: Settings
) -> None:
    response = await server.client.get("/api/v1/push/web")
    assert response.status_code == 200
    public_key = response.json()["public_key"]
    raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    assert (len(raw), raw[0], "=" in public_key) == (65, 4, False)
    pem = await anyio.Path(tier_settings.data_dir / "vapid.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    mine = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert raw == mine
    assert (await server.anonymous.get("/api/v1/push/web")).status_code == 401


async def test_the_key_survives_a_restart(tier_settings: Settings) -> None:
    keys = []
    for _ in range(2):
        async with serve(tier_settings) as server:
            keys.append((await server.client.get("/api/v1/push/web")).json()["public_key"])
    assert keys[0] == keys[1]


async def test_with_web_push_off_browsers_are_refused(tier_settings: Settings) -> None:
    settings = tier_settings.model_copy(
        update={"push": tier_settings.push.model_copy(update={"web_push": False})}
    )
    async with serve(settings) as server:
        key = await server.client.get("/api/v1/push/web")
        assert key.status_code == 404
        assert "Web Push is turned off" in key.json()["detail"]
        refused = await server.client.post("/api/v1/devices", json=browser())
        assert (refused.status_code, refused.json()["parameter"]) == (422, "web_push")
        assert (await server.client.post("/api/v1/devices", json=PHONE)).status_code == 201
    assert not await anyio.Path(settings.vapid_key_file).exists()
