"""ReleasingStreamingResponse: what a stream holds comes back however the response ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from api.http.streaming import ReleasingStreamingResponse

pytestmark = pytest.mark.anyio

SCOPE: dict[str, Any] = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}


async def test_released_when_the_client_left_before_the_body_started() -> None:
    released: list[str] = []
    started: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        started.append("started")
        yield b"x"

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        raise OSError("the client went away")

    response = ReleasingStreamingResponse(
        body(), release=lambda: released.append("released"), media_type="text/plain"
    )
    with pytest.raises(ClientDisconnect):
        await response(SCOPE, receive, send)
    assert (started, released) == ([], ["released"])


async def test_released_once_after_a_complete_body() -> None:
    released: list[str] = []
    sent: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message.get("body", b""))

    response = ReleasingStreamingResponse(
        body(), release=lambda: released.append("released"), media_type="text/plain"
    )
    await response(SCOPE, receive, send)
    assert b"".join(sent) == b"ab"
    assert released == ["released"]
