"""Storing what a doorbell reports: each event once (idempotent by id), then its
consequences: apps told, phones alerted, its snapshot and clip started, motion paired."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Protocol

from api.errors import Conflict
from api.events.accept import AgentEvent, same_event, to_record
from api.events.model import EventRecord
from api.events.notifications import Notifications
from api.metrics import Metrics
from api.store import EventStore

logger = logging.getLogger(__name__)

# Event ids remembered as pushed already: agent retries come within minutes, not thousands.
RECENT_IDS = 10_000


class MediaMaker(Protocol):
    """What ingest needs of the event recorder (api.events.recorder.EventRecorder)."""

    def record(self, event: EventRecord) -> None: ...
    def motion_ended(self, start_event_id: str, ended_at_ms: int) -> None: ...


class EventIngest:
    """Owns what happens to an event once the agent route has accepted it."""

    def __init__(
        self,
        events: EventStore,
        notifications: Notifications,
        media: MediaMaker,
        metrics: Metrics,
        recent_ids: int = RECENT_IDS,
    ) -> None:
        self._events = events
        self._notifications = notifications
        self._media = media
        self._metrics = metrics
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._recent_max = recent_ids

    async def ingest(
        self, event: AgentEvent, at_ms: int, received_ms: int, received_ns: int
    ) -> tuple[EventRecord, bool]:
        """Store the event (or find the stored one); only a new event has consequences.

        The push leaves before the commit: a phone should not wait for a disk's fsync (nor
        for other writers ahead in SQLite's queue). Its delivery log waits for the commit.
        An id seen recently is a retry and is not pushed again; one stored before a restart
        may be (the phone shows the newer of two notifications with one collapse key).
        """
        record = to_record(event, at_ms, received_ms)
        stored_future: asyncio.Future[bool] | None = None
        if record.id not in self._recent:
            stored_future = asyncio.get_running_loop().create_future()
            await self._notifications.alert(record, received_ns, stored_future)
        try:
            stored, created = await self._events.add(record)
        except BaseException:
            if stored_future is not None:
                stored_future.set_result(False)  # nothing to log the attempts against
                self._notifications.forget(record.id)
            raise
        if stored_future is not None:
            stored_future.set_result(created)
        self._remember(record.id)
        if not created:
            if stored_future is not None:
                # Pushed just now for an id stored before this process (a retry across a
                # restart): the stored event's clip, if any, was followed up then.
                self._notifications.forget(record.id)
            if not same_event(stored, record):
                raise Conflict(
                    f"event {event.id} already exists as a different event "
                    f"({stored.kind} of {stored.camera} at agent time {stored.agent_at_ms})"
                )
            return stored, False
        self._metrics.events.inc(stored.camera, stored.kind)
        self._notifications.stored(stored)
        if stored.kind == "motion_end":
            await self._close_motion(stored)
        self._media.record(stored)
        return stored, True

    def _remember(self, event_id: str) -> None:
        self._recent[event_id] = None
        self._recent.move_to_end(event_id)
        while len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    async def _close_motion(self, end: EventRecord) -> None:
        start = await self._events.open_motion(end.camera)
        if start is None or start.at_ms > end.at_ms:
            return
        updated = await self._events.set_ended(start.id, end.at_ms)
        self._media.motion_ended(start.id, end.at_ms)
        if updated is not None:
            self._notifications.updated(updated)
