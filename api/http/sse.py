"""Server-sent events (`GET /api/v1/events/stream`): the hub's notices as SSE text, with a
heartbeat that keeps proxies from closing an idle connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from api.events.hub import Notice, Subscription
from api.http.signing import UrlSigner
from api.http.views import event_out

HEARTBEAT_S = 15.0


def render(notice: Notice, signer: UrlSigner) -> str:
    """One SSE message: an event notice carries the event as the API shows it (signed
    media URLs minted now), others their small body."""
    lines = []
    if notice.event is not None:
        lines.append(f"id: {notice.event.id}")
        data: object = event_out(notice.event, signer).model_dump(mode="json")
    else:
        data = dict(notice.data)
    lines.append(f"event: {notice.kind}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


async def stream(
    subscription: Subscription,
    signer: UrlSigner,
    is_disconnected: Callable[[], Awaitable[bool]],
    heartbeat_s: float = HEARTBEAT_S,
) -> AsyncIterator[str]:
    """SSE text for one subscriber (its place taken already) until it disconnects; a
    comment line as heartbeat. A reconnecting client is told to wait 3 s. The place is
    given back here and by the response (`ReleasingStreamingResponse`), whichever is first."""
    with subscription as queue:
        yield "retry: 3000\n: connected\n\n"
        while not await is_disconnected():
            try:
                async with asyncio.timeout(heartbeat_s):  # wait_for can drop a cancel (3.11)
                    notice = await queue.get()
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            yield render(notice, signer)
