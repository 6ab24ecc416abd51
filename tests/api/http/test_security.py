"""Security headers on every answer, in process: API JSON (successes and errors, with and
without credentials), video, the app's page and its scripts, the docs, the health check."""

from __future__ import annotations

import pytest

from api.http.security import NOTHING_CSP
from api.http.webapp import APP_CSP, DOCS_CSP
from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio

FIXED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.mark.parametrize(
    ("path", "token", "status", "csp"),
    [
        ("/api/v1/cameras", True, 200, NOTHING_CSP),
        ("/api/v1/cameras", False, 401, NOTHING_CSP),
        ("/api/v1/events?limit=0", True, 422, NOTHING_CSP),
        ("/api/v1/cameras/front/live.m3u8?exp=1&sig=x", False, 403, NOTHING_CSP),
        ("/api/v1/cameras/front/snapshot.jpg", True, 200, NOTHING_CSP),
        ("/api/v1/cameras/nowhere/snapshot.jpg", True, 404, NOTHING_CSP),
        ("/healthz", False, 200, NOTHING_CSP),
        ("/openapi.json", False, 200, NOTHING_CSP),
        ("/", False, 200, APP_CSP),
        ("/sw.js", False, 200, APP_CSP),  # a worker runs under the CSP it is served with
        ("/assets/app-3f9a1c.js", False, 200, APP_CSP),
        ("/docs", False, 200, DOCS_CSP),
        ("/api/v1/no-such-route", True, 404, NOTHING_CSP),
    ],
)
async def test_every_answer_carries_the_security_headers(
    server: InProcess, path: str, token: bool, status: int, csp: str
) -> None:
    client = server.client if token else server.anonymous
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert {name: response.headers.get(name) for name in FIXED} == FIXED
    assert response.headers["content-security-policy"] == csp
    assert len(response.headers.get_list("content-security-policy")) == 1


async def test_the_agent_route_answers_carry_them_too(server: InProcess) -> None:
    response = await server.agent_post({"kind": "knock"})
    assert response.status_code == 422
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == NOTHING_CSP


def test_the_policy_for_non_pages_allows_nothing_and_no_framing() -> None:
    assert NOTHING_CSP == "default-src 'none'; frame-ancestors 'none'"
    assert "frame-ancestors 'none'" in APP_CSP
    assert "frame-ancestors 'none'" in DOCS_CSP
