"""Live notices for open apps: a broadcast to bounded per-subscriber queues. What a notice
looks like on the wire (server-sent events) is the HTTP layer's business (`api.http.sse`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from api.errors import TooManyStreams
from api.events.model import EventRecord

logger = logging.getLogger(__name__)

# A subscriber that falls this far behind (an app on a stalled connection) loses the oldest
# notices, and is told so: it should re-read GET /api/v1/events.
SUBSCRIBER_QUEUE = 256
MAX_SUBSCRIBERS = 100

# event: a new event; event_updated: its snapshot or clip made, or its motion ended;
# events_deleted: {ids}; events_cleared: {count}; overflow: notices were dropped.
NoticeKind = Literal["event", "event_updated", "events_deleted", "events_cleared", "overflow"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice: about one event (`event`), or with a small JSON body (`data`)."""

    kind: NoticeKind
    event: EventRecord | None = None
    data: Mapping[str, object] = field(default_factory=dict)


OVERFLOW = Notice("overflow", data={"detail": "notices were dropped"})


class Subscription:
    """One subscriber's place in the hub, taken at `Hub.subscribe` and held until `close`
    (idempotent; also on leaving a `with` block)."""

    def __init__(self, hub: Hub, queue: asyncio.Queue[Notice]) -> None:
        self.queue = queue
        self._hub = hub

    def close(self) -> None:
        self._hub._leave(self.queue)

    def __enter__(self) -> asyncio.Queue[Notice]:
        return self.queue

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Hub:
    """Fan-out of notices. Publishing never blocks and never fails the publisher."""

    def __init__(
        self, queue_size: int = SUBSCRIBER_QUEUE, max_subscribers: int = MAX_SUBSCRIBERS
    ) -> None:
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
                queue.put_nowait(OVERFLOW)
            queue.put_nowait(notice)

    def subscribe(self) -> Subscription:
        """A place in the hub, taken now (TooManyStreams when every place is taken): the
        check and the taking happen with no await between, so concurrent subscribers can
        never overshoot the cap."""
        if self.full:
            raise TooManyStreams("too many open event streams; retry later", retry_after_s=5)
        queue: asyncio.Queue[Notice] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return Subscription(self, queue)

    def _leave(self, queue: asyncio.Queue[Notice]) -> None:
        self._subscribers.discard(queue)
