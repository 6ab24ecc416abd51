"""What the event domain needs of the event store, as a protocol (`api.store.EventStore`
has it; the recorder's and retention's tests use fakes held to it by mypy)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from api.events.model import EventRecord, MediaState


class EventRepository(Protocol):
    """What the event recorder and retention need of the event store (api.store.events)."""

    async def get(self, event_id: str) -> EventRecord | None: ...
    async def set_snapshot(
        self, event_id: str, state: MediaState, path: str | None, at_ms: int | None
    ) -> EventRecord | None: ...
    async def set_clip(
        self,
        event_id: str,
        state: MediaState,
        path: str | None,
        start_ms: int | None,
        end_ms: int | None,
        size: int | None,
    ) -> EventRecord | None: ...
    async def pending_media(self) -> list[EventRecord]: ...
    async def saved_clips(self) -> list[EventRecord]: ...
    async def older_than(self, at_ms: int, limit: int = 500) -> list[EventRecord]: ...
    async def delete(self, ids: Collection[str]) -> list[EventRecord]: ...
