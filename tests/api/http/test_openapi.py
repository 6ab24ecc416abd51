"""The OpenAPI at /docs tells the truth about errors: every error answer a route declares has
the one `ErrorOut` body the handlers make, and FastAPI's own 422 body appears nowhere."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from api.config import Settings
from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio


async def openapi(server: InProcess) -> dict[str, Any]:
    response = await server.anonymous.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def test_every_error_answer_is_declared_as_error_out(server: InProcess) -> None:
    schema = await openapi(server)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    checked = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400 or path == "/healthz":
                    continue
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorOut", (method, path, status)
                checked += 1
    assert checked > 40


async def test_routes_with_parameters_declare_their_422(server: InProcess) -> None:
    schema = await openapi(server)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            takes_input = operation.get("parameters") or operation.get("requestBody")
            if takes_input:
                assert "422" in operation["responses"], (method, path)


async def test_the_agent_route_documents_its_body_and_every_refusal(server: InProcess) -> None:
    schema = await openapi(server)
    operation = schema["paths"]["/api/v1/agent/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"id", "camera", "kind", "at_ms"}
    assert set(operation["responses"]) == {
        "200", "201", "401", "403", "409", "413", "422", "425", "429", "503",
    }  # fmt: skip


async def test_api_routes_declare_401_and_403(server: InProcess) -> None:
    schema = await openapi(server)
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/") and not path.startswith("/api/v1/agent/"):
            for method, operation in item.items():
                if (method, path) == ("post", "/api/v1/session"):
                    continue  # signing in takes no credentials: below
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


async def test_sign_in_declares_its_refusals_and_no_403(server: InProcess) -> None:
    schema = await openapi(server)
    operation = schema["paths"]["/api/v1/session"]["post"]
    assert set(operation["responses"]) == {"200", "401", "422", "429", "503"}
    assert operation.get("security") is None
    assert schema["paths"]["/api/v1/session"]["get"]["security"]


async def test_a_store_failure_is_a_503_every_api_route_declares(
    server: InProcess, tier_settings: Settings
) -> None:
    """Users' tokens and sessions are looked up in the store on every /api/v1 route, and most
    routes read or write it: when it fails the answer is 503 (Retry-After), declared."""
    schema = await openapi(server)
    path = tier_settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:  # the store breaks under the server
        for table in ("deliveries", "events", "devices", "api_tokens", "sessions"):
            db.execute(f"DROP TABLE {table}")
    for method, url, route in [
        ("GET", "/api/v1/events", "/api/v1/events"),
        ("DELETE", "/api/v1/events", "/api/v1/events"),
        ("GET", "/api/v1/devices", "/api/v1/devices"),
        ("GET", "/api/v1/cameras", "/api/v1/cameras"),
    ]:
        response = await server.client.request(method, url)
        assert response.status_code == 503, (method, url, response.text)
        assert response.headers["retry-after"] == "2"
        assert "503" in schema["paths"][route][method.lower()]["responses"], (method, route)
    for path_, item in schema["paths"].items():
        for method, operation in item.items():
            # The doorbells' clock is read without the store: it never answers 503.
            if path_.startswith("/api/v1/") and path_ != "/api/v1/agent/time":
                assert "503" in operation["responses"], (method, path_)
