"""Live notices for open apps (`GET /api/v1/events/stream`): a broadcast to bounded
per-subscriber queues, rendered as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# A subscriber that falls this far behind (an app on a stalled connection) loses the oldest
# notices, and is told so: it should re-read GET /api/v1/events.
SUBSCRIBER_QUEUE = 256
HEARTBEAT_S = 15.0


@dataclass(frozen=True, slots=True)
class Notice:
    """One server-sent event: `kind` is the SSE event name, `data` its JSON body."""

    kind: str  # event | event_updated | events_deleted | overflow
    data: dict[str, Any]
    id: str | None = None


class Hub:
    """Fan-out of notices. Publishing never blocks and never fails the publisher."""

    def __init__(self, queue_size: int = SUBSCRIBER_QUEUE, max_subscribers: int = 100) -> None:
        self._queue_size = queue_size
        self._max = max_subscribers
        self._subscribers: set[asyncio.Queue[Notice]] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= self._max

    def publish(self, notice: Notice) -> None:
        for queue in self._subscribers:
            if queue.full():
                # Drop the oldest, and say so once, so the app knows to re-read the list.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(Notice("overflow", {"detail": "notices were dropped"}))
            queue.put_nowait(notice)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Notice]]:
        queue: asyncio.Queue[Notice] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    async def stream(
        self,
        is_disconnected: Callable[[], Awaitable[bool]],
        heartbeat_s: float = HEARTBEAT_S,
    ) -> AsyncIterator[str]:
        """SSE text for one subscriber until it disconnects; a comment line as heartbeat keeps
        proxies from closing an idle connection. A reconnecting client is told to wait 3 s."""
        with self.subscribe() as queue:
            yield "retry: 3000\n: connected\n\n"
            while not await is_disconnected():
                try:
                    async with asyncio.timeout(heartbeat_s):  # wait_for can drop a cancel (3.11)
                        notice = await queue.get()
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                yield render(notice)


def render(notice: Notice) -> str:
    lines = []
    if notice.id is not None:
        lines.append(f"id: {notice.id}")
    lines.append(f"event: {notice.kind}")
    lines.append("data: " + json.dumps(notice.data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"
