"""Request bodies are capped before they are read (http.max_body_bytes): a stranger's 40 MB
costs the server no more than the limit, and gets 413 in the API's error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.api.conftest import BASE_URL, InProcess

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024  # the default
CHUNK = 16 * 1024
FORTY_MB = 40 * 1024 * 1024


@dataclass
class Body:
    """A body of `size` bytes made as it is pulled, counting what the server pulled."""

    size: int
    pulled: int = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.pulled < self.size:
            self.pulled += CHUNK
            yield b'{"username": "' + b"a" * (CHUNK - 14) if self.pulled == CHUNK else b"a" * CHUNK


def _client(server: InProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url=BASE_URL)


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"body too large: at most {LIMIT} bytes"}
    assert response.headers["connection"] == "close"


async def test_a_declared_40_mb_body_is_refused_without_reading_a_byte(server: InProcess) -> None:
    assert server.settings.http.max_body_bytes == LIMIT
    body = Body(FORTY_MB)
    async with _client(server) as client:
        response = await client.post(
            "/api/v1/session",  # needs no credentials
            content=body.chunks(),
            headers={"Content-Length": str(FORTY_MB), "Content-Type": "application/json"},
        )
    _assert_413(response)
    assert body.pulled <= CHUNK  # httpx's transport may start the body before the answer


async def test_a_streamed_body_is_cut_off_at_the_limit(server: InProcess) -> None:
    body = Body(FORTY_MB)
    async with _client(server) as client:
        response = await client.post(
            "/api/v1/session", content=body.chunks(), headers={"Content-Type": "application/json"}
        )
    _assert_413(response)
    assert body.pulled <= LIMIT + CHUNK


async def test_an_authenticated_route_is_capped_too(server: InProcess) -> None:
    body = Body(LIMIT + CHUNK)
    response = await server.client.post(
        "/api/v1/devices", content=body.chunks(), headers={"Content-Type": "application/json"}
    )
    _assert_413(response)


async def test_bodies_within_the_limit_are_read_as_before(server: InProcess) -> None:
    response = await server.anonymous.post(
        "/api/v1/session", json={"username": "nobody", "password": "x" * 30_000}
    )
    # Parsed and checked: a wrong sign-in, not a refused body.
    assert response.status_code in {401, 422}, response.text
    assert response.status_code != 413
