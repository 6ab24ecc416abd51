"""The signed-in user's API tokens, in process: shown once, used as bearer tokens, listed,
revoked; service tokens keep working beside them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import OTHER_PASSWORD, OTHER_USER, InProcess

pytestmark = pytest.mark.anyio


async def create(server: InProcess, browser: httpx.AsyncClient, name: str) -> dict[str, Any]:
    session = await server.sign_in(browser)
    response = await browser.post(
        "/api/v1/tokens", json={"name": name}, headers={"X-CSRF-Token": session["csrf_token"]}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_and_then_signs_its_user_in(server: InProcess) -> None:
    async with server.browser() as browser:
        created = await create(server, browser, "backup script")
        assert set(created) == {"id", "name", "created_ms", "token"}
        assert (created["name"], created["created_ms"]) == ("backup script", server.clock.now_ms)
        assert created["token"].startswith("dbt_")
        listed = (await browser.get("/api/v1/tokens")).json()
        assert listed == {
            "tokens": [
                {"id": created["id"], "name": "backup script",
                 "created_ms": created["created_ms"], "last_used_ms": None}
            ]
        }  # fmt: skip
    auth = bearer(created["token"])
    assert (await server.anonymous.get("/api/v1/cameras", headers=auth)).status_code == 200
    media = await server.anonymous.get("/api/v1/cameras/front/snapshot.jpg", headers=auth)
    assert media.status_code == 200
    # Headers are not sent by other sites: unsafe methods need no CSRF token.
    gone = await server.anonymous.delete("/api/v1/devices/nope", headers=auth)
    assert gone.status_code == 404
    listed = (await server.anonymous.get("/api/v1/tokens", headers=auth)).json()["tokens"]
    assert [t["last_used_ms"] for t in listed] == [server.clock.now_ms]


async def test_an_api_token_has_no_session_of_its_own(server: InProcess) -> None:
    async with server.browser() as browser:
        token = (await create(server, browser, "app"))["token"]
    response = await server.anonymous.get("/api/v1/session", headers=bearer(token))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "this request is signed in with an API token, not a session"
    }
    sessions = await server.anonymous.get("/api/v1/sessions", headers=bearer(token))
    assert [s["current"] for s in sessions.json()["sessions"]] == [False]


async def test_last_used_moves_at_most_once_a_minute(server: InProcess) -> None:
    async with server.browser() as browser:
        token = (await create(server, browser, "app"))["token"]
        first = server.clock.now_ms
        await server.anonymous.get("/api/v1/cameras", headers=bearer(token))
        server.clock.advance(s=59)
        await server.anonymous.get("/api/v1/cameras", headers=bearer(token))
        [listed] = (await browser.get("/api/v1/tokens")).json()["tokens"]
        assert listed["last_used_ms"] == first
        server.clock.advance(s=1)
        await server.anonymous.get("/api/v1/cameras", headers=bearer(token))
        [listed] = (await browser.get("/api/v1/tokens")).json()["tokens"]
        assert listed["last_used_ms"] == first + 60_000


async def test_a_revoked_token_no_longer_works(server: InProcess) -> None:
    async with server.browser() as browser:
        created = await create(server, browser, "app")
        session = (await browser.get("/api/v1/session")).json()
        headers = {"X-CSRF-Token": session["csrf_token"]}
        response = await browser.delete(f"/api/v1/tokens/{created['id']}", headers=headers)
        assert response.status_code == 204
        again = await browser.delete(f"/api/v1/tokens/{created['id']}", headers=headers)
        assert again.status_code == 404
        assert (await browser.delete("/api/v1/tokens/a%00b", headers=headers)).status_code == 404
        assert (await browser.get("/api/v1/tokens")).json() == {"tokens": []}
    refused = await server.anonymous.get("/api/v1/cameras", headers=bearer(created["token"]))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "invalid bearer token"}


async def test_a_user_sees_and_revokes_only_their_own_tokens(server: InProcess) -> None:
    async with server.browser() as mine, server.browser() as theirs:
        created = await create(server, mine, "app")
        other = await server.sign_in(theirs, OTHER_USER, OTHER_PASSWORD)
        assert (await theirs.get("/api/v1/tokens")).json() == {"tokens": []}
        response = await theirs.delete(
            f"/api/v1/tokens/{created['id']}", headers={"X-CSRF-Token": other["csrf_token"]}
        )
        assert response.status_code == 404
    assert (
        await server.anonymous.get("/api/v1/cameras", headers=bearer(created["token"]))
    ).status_code == 200


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "a\x00b"}])
async def test_a_token_needs_a_name(server: InProcess, body: dict[str, str]) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser)
        response = await browser.post(
            "/api/v1/tokens", json=body, headers={"X-CSRF-Token": session["csrf_token"]}
        )
    assert response.status_code == 422
    assert response.json()["parameter"] == "body.name"


async def test_service_tokens_still_work_everywhere_but_where_a_user_is_needed(
    server: InProcess,
) -> None:
    assert (await server.client.get("/api/v1/cameras")).status_code == 200
    assert (await server.client.delete("/api/v1/devices/nope")).status_code == 404  # no CSRF
    assert (await server.client.get("/api/v1/tokens")).status_code == 403
