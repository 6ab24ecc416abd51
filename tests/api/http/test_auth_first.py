"""Credentials before the body: a route under /api/v1 that needs them answers 401 without
reading a byte of the body (FastAPI reads and parses a body before any dependency runs)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.app import create_app
from api.config import Settings
from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio


def protected_body_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every operation the OpenAPI says needs credentials and takes a
    body, path parameters filled in: a router added later without `AuthFirstRoute` shows."""
    spec = create_app(settings).openapi()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and "requestBody" in operation
    ]


async def call(server: InProcess, method: str, path: str, client: str) -> tuple[int, int]:
    """`method path` with a wrong token and an endless JSON body, from `client`: (status,
    body chunks the app asked for)."""
    asked = 0
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        more = asked < 64  # 64 MiB if read to the end
        return {"type": "http.request", "body": b"[" * (1024 * 1024), "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [
        (b"authorization", b"Bearer wrong-token"),
        (b"content-type", b"application/json"),
        # No Content-Length (a chunked body): a declared one over http.max_body_bytes is
        # refused before any route by the body cap (tests/api/http/test_bodylimit.py).
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": (client, 1),
        "server": ("doorbell.test", 80),
    }  # fmt: skip
    await server.app(scope, receive, send)  # type: ignore[arg-type]
    return statuses[0], asked


async def test_a_wrong_token_costs_no_body_on_any_route(
    server: InProcess, tier_settings: Settings
) -> None:
    routes = protected_body_routes(tier_settings)
    assert len(routes) >= 4, routes  # devices, event deletion, password change, API tokens
    # One address each: more than `auth_throttle.failures` wrong tokens from one would wait.
    answers = {
        f"{m} {p}": await call(server, m, p, f"192.0.2.{i}") for i, (m, p) in enumerate(routes)
    }
    assert answers == dict.fromkeys(answers, (401, 0))
