"""Signing in and out with the session cookie, in process: the cookie's attributes, what it
authenticates, CSRF, the slow-down, expiry, the user's sessions and their password."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import httpx
import pytest

from api.accounts.passwords import Passwords
from api.accounts.users import Users
from api.http.signing import UrlSigner
from api.store import Database
from tests.api.conftest import OTHER_USER, PASSWORD, USER, InProcess
from tests.api.fakes import CHEAP_HASHER

pytestmark = pytest.mark.anyio

DAY_S = 86_400


def set_cookie(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The value of the doorbell_session cookie the response sets, and its attributes
    (names lowercase; flags map to "")."""
    [header] = response.headers.get_list("set-cookie")
    name, _, rest = header.partition("=")
    assert name == "doorbell_session", header
    value, *attributes = (part.strip() for part in rest.split(";"))
    parsed = {}
    for attribute in attributes:
        key, _, flag = attribute.partition("=")
        parsed[key.lower()] = flag
    return value, parsed


def csrf(session: dict[str, object]) -> dict[str, str]:
    return {"X-CSRF-Token": str(session["csrf_token"])}


async def test_sign_in_sets_an_http_only_lax_cookie_for_the_whole_site(server: InProcess) -> None:
    async with server.browser() as browser:
        response = await browser.post(
            "/api/v1/session", json={"username": USER, "password": PASSWORD}
        )
    assert response.status_code == 200
    value, attributes = set_cookie(response)
    assert len(value) >= 43
    assert attributes == {
        "httponly": "",
        "max-age": str(90 * DAY_S),
        "path": "/",
        "samesite": "lax",
    }
    body = response.json()
    assert set(body) == {"id", "user", "csrf_token", "expires_ms"}
    assert body["user"] == {"name": USER}
    assert body["id"] == hashlib.sha256(value.encode()).hexdigest()
    assert body["expires_ms"] == server.clock.now_ms + 14 * DAY_S * 1000
    assert len(body["csrf_token"]) >= 43
    assert body["csrf_token"] != value


async def test_over_https_the_cookie_is_also_secure(server: InProcess) -> None:
    async with server.browser("https://doorbell.test") as browser:
        response = await browser.post(
            "/api/v1/session", json={"username": USER, "password": PASSWORD}
        )
        assert response.status_code == 200
        _, attributes = set_cookie(response)
        assert "secure" in attributes
        assert (await browser.get("/api/v1/cameras")).status_code == 200


async def test_the_cookie_authenticates_the_api_and_the_media(server: InProcess) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser)
        assert (await browser.get("/api/v1/session")).json() == session
        cameras = await browser.get("/api/v1/cameras")
        assert cameras.status_code == 200
        assert [c["id"] for c in cameras.json()] == ["front"]
        for path in ("live.m3u8", "rewind.m3u8", "snapshot.jpg", "clip?seconds=5"):
            response = await browser.get(f"/api/v1/cameras/front/{path}")
            assert response.status_code == 200, (path, response.text)
        segment = server.buffer.recent(1)[0].seq
        assert (
            await browser.get(f"/api/v1/cameras/front/segments/{segment}.ts")
        ).status_code == 200
        assert (await browser.get("/api/v1/events")).status_code == 200
        cookie = f"doorbell_session={browser.cookies['doorbell_session']}"
    stream = server.stream("/api/v1/events/stream", {"Cookie": cookie})  # as EventSource does
    async with asyncio.timeout(20), stream as lines:
        assert await anext(lines) == "retry: 3000"  # 200 (stream() checks), and subscribed


async def test_the_username_ignores_case(server: InProcess) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser, username="ANA")
    assert session["user"] == {"name": USER}


async def test_a_wrong_password_and_an_unknown_user_get_the_same_401(server: InProcess) -> None:
    answers = []
    async with server.browser() as browser:
        for username, password in ((USER, "wrong password"), ("zed", PASSWORD)):
            response = await browser.post(
                "/api/v1/session", json={"username": username, "password": password}
            )
            assert response.status_code == 401
            assert "set-cookie" not in response.headers
            answers.append(response.json())
        assert (await browser.get("/api/v1/cameras")).status_code == 401
    assert answers == [{"detail": "wrong username or password"}] * 2


@pytest.mark.parametrize(
    "body",
    [
        {"username": USER},
        {"password": PASSWORD},
        {"username": "", "password": PASSWORD},
        {"username": "x" * 65, "password": PASSWORD},
        [],
        "x",
    ],
)
async def test_a_malformed_sign_in_is_422(server: InProcess, body: object) -> None:
    response = await server.anonymous.post("/api/v1/session", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid request")


async def failed_sign_in(
    server: InProcess, address: str, username: str = USER, password: str = "a wrong password"
) -> httpx.Response:
    async with server.browser(address=address) as browser:
        return await browser.post(
            "/api/v1/session", json={"username": username, "password": password}
        )


async def test_failed_sign_ins_from_one_address_are_slowed(server: InProcess) -> None:
    for n in range(5):
        response = await failed_sign_in(server, "192.0.2.7", username=f"guess{n}")
        assert response.status_code == 401
    refused = await failed_sign_in(server, "192.0.2.7", password=PASSWORD)  # even the right one
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"detail": "too many failed sign-ins; try again in 1 s"}
    assert (await failed_sign_in(server, "198.51.100.1", password=PASSWORD)).status_code == 200
    server.clock.advance(s=1)
    assert (await failed_sign_in(server, "192.0.2.7", password=PASSWORD)).status_code == 200


async def test_failed_sign_ins_for_one_user_are_slowed_from_any_address(
    server: InProcess,
) -> None:
    for n in range(5):
        assert (await failed_sign_in(server, f"192.0.2.{n}")).status_code == 401
    refused = await failed_sign_in(server, "198.51.100.1", password=PASSWORD)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
    other = await failed_sign_in(server, "198.51.100.1", OTHER_USER, "staple battery horse")
    assert other.status_code == 200
    server.clock.advance(s=1)
    assert (await failed_sign_in(server, "198.51.100.2")).status_code == 401  # the sixth
    refused = await failed_sign_in(server, "198.51.100.3", password=PASSWORD)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "2")


async def test_a_success_resets_the_username_count(server: InProcess) -> None:
    for n in range(4):
        assert (await failed_sign_in(server, f"192.0.2.{n}")).status_code == 401
    assert (await failed_sign_in(server, "198.51.100.1", password=PASSWORD)).status_code == 200
    for n in range(4):
        assert (await failed_sign_in(server, f"203.0.113.{n}")).status_code == 401
    assert (await failed_sign_in(server, "198.51.100.2", password=PASSWORD)).status_code == 200


async def test_a_burst_is_logged_once_with_address_and_user_but_no_password(
    server: InProcess, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for _ in range(7):
            await failed_sign_in(server, "192.0.2.7", password="hunter2-guess-0123")
    warnings = [r for r in caplog.records if r.name == "api.accounts.limiter"]
    assert len(warnings) == 1
    assert "192.0.2.7" in warnings[0].getMessage()
    assert "'ana'" in warnings[0].getMessage()
    assert "hunter2-guess-0123" not in caplog.text


async def test_unsafe_requests_with_the_cookie_need_the_session_csrf_token(
    server: InProcess,
) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser)
        missing = await browser.post("/api/v1/tokens", json={"name": "app"})
        assert missing.status_code == 403
        assert missing.json()["detail"].startswith("missing or wrong X-CSRF-Token")
        wrong = await browser.post(
            "/api/v1/tokens", json={"name": "app"}, headers={"X-CSRF-Token": "guessed"}
        )
        assert wrong.status_code == 403
        assert (await browser.delete("/api/v1/session")).status_code == 403
        right = await browser.post("/api/v1/tokens", json={"name": "app"}, headers=csrf(session))
        assert right.status_code == 201
        gone = await browser.delete("/api/v1/devices/nope", headers=csrf(session))
        assert gone.status_code == 404  # past the CSRF check
        assert (await browser.get("/api/v1/tokens")).status_code == 200  # safe: no token


async def test_sign_out_ends_the_session_and_clears_the_cookie(server: InProcess) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser)
        cookie = browser.cookies["doorbell_session"]
        response = await browser.delete("/api/v1/session", headers=csrf(session))
        assert response.status_code == 204
        value, attributes = set_cookie(response)
        assert value in {"", '""'}
        assert attributes["max-age"] == "0"
        assert "doorbell_session" not in browser.cookies
    async with server.browser() as stale:
        stale.cookies.set("doorbell_session", cookie)
        response = await stale.get("/api/v1/session")
    assert response.status_code == 401
    assert response.json() == {"detail": "the session has expired or was ended: sign in again"}


async def test_the_user_lists_their_sessions_and_ends_one(server: InProcess) -> None:
    async with (
        server.browser(user_agent="Phone") as phone,
        server.browser(address="192.0.2.9", user_agent="Laptop") as laptop,
        server.browser() as other,
    ):
        mine = await server.sign_in(phone)
        server.clock.advance(s=5)
        theirs = await server.sign_in(laptop)
        someone_else = await server.sign_in(other, OTHER_USER, "staple battery horse")
        listed = (await phone.get("/api/v1/sessions")).json()["sessions"]
        assert [(s["id"], s["user_agent"], s["address"], s["current"]) for s in listed] == [
            (theirs["id"], "Laptop", "192.0.2.9", False),
            (mine["id"], "Phone", "127.0.0.1", True),
        ]
        assert set(listed[0]) == {
            "id", "created_ms", "last_seen_ms", "expires_ms", "user_agent", "address", "current",
        }  # fmt: skip
        end = f"/api/v1/sessions/{someone_else['id']}"
        assert (await phone.delete(end, headers=csrf(mine))).status_code == 404
        assert (await other.get("/api/v1/session")).status_code == 200
        response = await phone.delete(f"/api/v1/sessions/{theirs['id']}", headers=csrf(mine))
        assert response.status_code == 204
        assert "set-cookie" not in response.headers  # not this browser's session
        assert (await laptop.get("/api/v1/cameras")).status_code == 401
        assert (await phone.get("/api/v1/cameras")).status_code == 200
        missing = await phone.delete("/api/v1/sessions/nope", headers=csrf(mine))
        assert (missing.status_code, missing.json()) == (404, {"detail": "unknown session 'nope'"})
        assert (await phone.delete("/api/v1/sessions/a%00", headers=csrf(mine))).status_code == 404
        own = await phone.delete(f"/api/v1/sessions/{mine['id']}", headers=csrf(mine))
        assert own.status_code == 204
        assert set_cookie(own)[1]["max-age"] == "0"


async def test_a_session_ends_when_unused_for_the_idle_time(server: InProcess) -> None:
    async with server.browser() as browser:
        await server.sign_in(browser)
        server.clock.advance(days=13)
        slid = await browser.get("/api/v1/session")
        assert slid.json()["expires_ms"] == server.clock.now_ms + 14 * DAY_S * 1000
        server.clock.advance(days=14, ms=-1)
        assert (await browser.get("/api/v1/cameras")).status_code == 200
        server.clock.advance(days=14)
        expired = await browser.get("/api/v1/cameras")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_a_session_ends_at_its_longest_lifetime(server: InProcess) -> None:
    async with server.browser() as browser:
        await server.sign_in(browser)
        for _ in range(8):
            server.clock.advance(days=11)
            assert (await browser.get("/api/v1/cameras")).status_code == 200
        server.clock.advance(days=1.5)
        assert (await browser.get("/api/v1/cameras")).status_code == 200  # 89.5 days old
        server.clock.advance(days=0.5)  # used every few days, but now 90 days old
        assert (await browser.get("/api/v1/cameras")).status_code == 401


async def test_last_seen_moves_at_most_once_a_minute(server: InProcess) -> None:
    async with server.browser() as browser:
        await server.sign_in(browser)
        signed_in = server.clock.now_ms

        async def last_seen() -> int:
            [session] = (await browser.get("/api/v1/sessions")).json()["sessions"]
            value: int = session["last_seen_ms"]
            return value

        server.clock.advance(s=59)
        assert await last_seen() == signed_in
        server.clock.advance(s=1)
        assert await last_seen() == signed_in + 60_000


async def test_a_password_change_ends_the_other_sessions(server: InProcess) -> None:
    async with server.browser() as here, server.browser() as there:
        session = await server.sign_in(here)
        await server.sign_in(there)
        change = {"current_password": PASSWORD, "new_password": "a brand new password"}
        response = await here.post("/api/v1/account/password", json=change, headers=csrf(session))
        assert response.status_code == 204
        assert (await here.get("/api/v1/cameras")).status_code == 200
        assert (await there.get("/api/v1/cameras")).status_code == 401
        assert (await failed_sign_in(server, "192.0.2.1", password=PASSWORD)).status_code == 401
        new = await failed_sign_in(server, "192.0.2.1", password="a brand new password")
        assert new.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"current_password": "not my password", "new_password": "x" * 10}, 403, "wrong current"),
        ({"current_password": PASSWORD, "new_password": "x" * 9}, 422, "body.new_password"),
        ({"current_password": PASSWORD}, 422, "body.new_password"),
    ],
)
async def test_a_password_change_is_refused_without_changing_anything(
    server: InProcess, change: dict[str, str], status: int, detail: str
) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser)
        response = await browser.post(
            "/api/v1/account/password", json=change, headers=csrf(session)
        )
        assert response.status_code == status
        assert detail in response.json()["detail"]
    assert (await failed_sign_in(server, "192.0.2.1", password=PASSWORD)).status_code == 200


async def test_routes_that_need_a_user_refuse_service_tokens_and_signed_urls(
    server: InProcess,
) -> None:
    for method, path in (
        ("GET", "/api/v1/session"),
        ("DELETE", "/api/v1/session"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/sessions/x"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/x"),
        ("POST", "/api/v1/account/password"),
    ):
        body = {"name": "x", "current_password": PASSWORD, "new_password": "x" * 10}
        response = await server.client.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert "not a service token" in response.json()["detail"]
    signed = UrlSigner(server.settings.signing_key, 600).sign("/api/v1/sessions")
    response = await server.anonymous.get(signed)
    assert response.status_code == 403
    assert "not a signed URL" in response.json()["detail"]


async def test_signed_urls_work_in_a_browser_holding_an_expired_cookie(
    server: InProcess,
) -> None:
    signed = UrlSigner(server.settings.signing_key, 600).sign("/api/v1/cameras/front/snapshot.jpg")
    async with server.browser() as browser:
        await server.sign_in(browser)
        server.clock.advance(days=15)
        assert (await browser.get("/api/v1/cameras")).status_code == 401
        assert (await browser.get(signed)).status_code == 200
        browser.cookies.set("doorbell_session", "made-up")
        assert (await browser.get(signed)).status_code == 200
        assert (await browser.get(signed.replace("exp=", "exp=1"))).status_code == 403


async def test_removing_the_user_ends_their_sessions(server: InProcess) -> None:
    async with server.browser() as browser:
        await server.sign_in(browser)
        db = await Database.open(server.settings.database)
        try:
            users = Users(db.users, db.sessions, Passwords(CHEAP_HASHER))
            assert await users.remove(USER)
        finally:
            await db.aclose()
        assert (await browser.get("/api/v1/cameras")).status_code == 401


async def test_a_bearer_token_is_checked_before_the_cookie(server: InProcess) -> None:
    async with server.browser() as browser:
        await server.sign_in(browser)
        service = {"Authorization": f"Bearer {server.settings.api_tokens[0].get_secret_value()}"}
        # The header is ours, not the browser's: no CSRF token needed, and no user either.
        assert (await browser.delete("/api/v1/devices/x", headers=service)).status_code == 404
        assert (await browser.get("/api/v1/session", headers=service)).status_code == 403
        wrong = await browser.get("/api/v1/cameras", headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()) == (401, {"detail": "invalid bearer token"})
