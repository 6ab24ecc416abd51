"""Server-sent events: the hub's notices as SSE text, heartbeats, the end on disconnect."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.events.hub import Hub, Notice
from api.http.signing import UrlSigner
from api.http.sse import render, stream
from tests.api.events.test_accept import NOW, record

SIGNER = UrlSigner(b"k" * 32, 600, clock=lambda: NOW / 1000)


@pytest.mark.anyio
async def test_stream_renders_notices_and_stops_on_disconnect() -> None:
    hub = Hub()
    gone = False

    async def disconnected() -> bool:
        return gone

    events = stream(hub.subscribe(), SIGNER, disconnected, heartbeat_s=0.05)
    assert hub.subscribers == 1  # the place is taken before the stream starts
    first = await anext(events)
    assert first.startswith("retry: 3000")
    async with asyncio.timeout(5):
        assert await anext(events) == ": heartbeat\n\n"
    ring = record("ring", NOW)
    hub.publish(Notice("event", ring))
    async with asyncio.timeout(5):
        got = await anext(events)
    lines = got.splitlines()
    assert lines[:2] == [f"id: {ring.id}", "event: event"]
    body = json.loads(lines[2].removeprefix("data: "))
    assert (body["id"], body["kind"], body["snapshot"]["state"]) == (ring.id, "ring", "pending")
    assert body["snapshot"]["signed_url"].startswith(f"/api/v1/events/{ring.id}/snapshot.jpg?")
    gone = True
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(5):
            await anext(events)
    assert hub.subscribers == 0


def test_render_is_one_json_line() -> None:
    text = render(Notice("events_deleted", data={"a": "multi\nline"}), SIGNER)
    data_line = next(line for line in text.splitlines() if line.startswith("data: "))
    assert json.loads(data_line[6:]) == {"a": "multi\nline"}
    assert not any(line.startswith("id: ") for line in text.splitlines())
