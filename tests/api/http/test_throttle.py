"""Failed authentication slowed per address: every kind of credential counts, a waiting
address gets 429 with Retry-After on every route that checks credentials (right ones
included), other addresses are untouched, one log line per burst. On the fake clock."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from api.accounts.limiter import AuthThrottle, SlowDown
from api.errors import TooManyFailures
from api.http.signing import UrlSigner
from common.clock import wall_ms
from tests.api.conftest import DEVICE_TOKEN, RELAY_SECRET, TOKEN, InProcess
from tests.api.fakes import FakeClock

pytestmark = pytest.mark.anyio

ATTACKER = "203.0.113.9"
Attempt = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def ring() -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "camera": "front", "kind": "ring", "at_ms": wall_ms()}


async def wrong_bearer(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/api/v1/cameras", headers={"Authorization": "Bearer wrong-token"})


async def right_bearer(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {TOKEN}"})


async def wrong_cookie(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/api/v1/cameras", headers={"Cookie": "doorbell_session=guess"})


async def wrong_signature(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get(
        "/api/v1/cameras/front/snapshot.jpg", params={"exp": "99999999999", "sig": "guess"}
    )


async def wrong_device_token(client: httpx.AsyncClient) -> httpx.Response:
    headers = {"Authorization": "Bearer guess"}
    return await client.post("/api/v1/agent/events", json=ring(), headers=headers)


async def right_device_token(client: httpx.AsyncClient) -> httpx.Response:
    headers = {"Authorization": f"Bearer {DEVICE_TOKEN}"}
    return await client.post("/api/v1/agent/events", json=ring(), headers=headers)


async def wrong_relay_secret(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/internal/relay/on_publish?secret=guess", data={"name": "front"})


async def right_relay_secret(client: httpx.AsyncClient) -> httpx.Response:
    url = f"/internal/relay/on_publish_done?secret={RELAY_SECRET}"
    return await client.post(url, data={"name": "front", "clientid": "1"})


@pytest.mark.parametrize(
    ("wrong", "refused", "right"),
    [
        (wrong_bearer, 401, right_bearer),
        (wrong_cookie, 401, right_bearer),
        (wrong_signature, 403, right_bearer),
        (wrong_device_token, 401, right_device_token),
        (wrong_relay_secret, 403, right_relay_secret),
    ],
)
async def test_an_address_that_fails_too_often_waits_on_every_route(
    server: InProcess,
    caplog: pytest.LogCaptureFixture,
    wrong: Attempt,
    refused: int,
    right: Attempt,
) -> None:
    limit = server.settings.auth_throttle.failures
    caplog.set_level(logging.WARNING, "api.accounts.limiter")
    async with server.browser(address=ATTACKER) as attacker:
        for _ in range(limit):
            assert (await wrong(attacker)).status_code == refused
        waiting = await wrong(attacker)
        assert waiting.status_code == 429
        assert waiting.headers["retry-after"] == "1"
        assert waiting.json()["detail"] == (
            "too many failed authentications from this address; try again in 1 s"
        )
        # Right credentials wait too: a 200 among 429s would still tell a guesser which
        # guess was right. Every route that checks credentials is closed to the address.
        assert (await right(attacker)).status_code == 429
        assert (await right_bearer(attacker)).status_code == 429
        assert (await right_device_token(attacker)).status_code == 429
        # Another address is not slowed.
        assert (await right(server.anonymous)).status_code in {200, 201, 204}
        # The wait over, credentials are checked again; the next failure waits twice as long.
        server.clock.advance(s=1)
        assert (await right(attacker)).status_code in {200, 201, 204}
        assert (await wrong(attacker)).status_code == refused
        assert (await wrong(attacker)).headers["retry-after"] == "2"
    burst = [r for r in caplog.records if ATTACKER in r.getMessage()]
    assert len(burst) == 1, "one log line per burst, not one per request"
    assert f"{limit} failed authentications from {ATTACKER}" in burst[0].getMessage()


async def test_no_credentials_and_an_expired_url_are_not_failures(server: InProcess) -> None:
    limit = server.settings.auth_throttle.failures
    signer = UrlSigner(server.settings.signing_key, 600)
    expired = signer.sign("/api/v1/cameras/front/snapshot.jpg", exp=1)  # a good signature
    async with server.browser(address=ATTACKER) as stranger:
        for _ in range(limit * 2):
            assert (await stranger.get("/api/v1/cameras")).status_code == 401
            assert (await stranger.post("/api/v1/agent/events", json=ring())).status_code == 401
            assert (await stranger.get(expired)).status_code == 403
        assert (await right_bearer(stranger)).status_code == 200


def test_memory_is_bounded_and_failures_are_forgotten() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(
        SlowDown(limit=2, window_s=60, base_s=1, cap_s=10, max_keys=100), clock=clock
    )
    for i in range(1000):
        throttle.failed(f"198.51.100.{i % 256}.{i}", "bearer token")
    assert throttle.tracked == 100
    for _ in range(2):
        throttle.failed(ATTACKER, "bearer token")
    with pytest.raises(TooManyFailures):
        throttle.check(ATTACKER)
    clock.advance(s=1 + 60)  # the wait, then a window without a failure
    throttle.check(ATTACKER)
    throttle.failed(ATTACKER, "bearer token")
    throttle.check(ATTACKER)  # forgotten: this failure is the first of a new count
