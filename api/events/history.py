"""The event history as apps read and prune it: pages of events, one event with its push
delivery log, its snapshot and saved clip, and deletion (records and files together)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from api.errors import BadRequest, MediaPending, NoMedia, NotFound
from api.events.files import MediaFiles
from api.events.model import DeliveryRecord, EventRecord
from api.events.notifications import Notifications
from api.store import DeliveryStore, EventStore
from common.events import EventKind
from common.ids import is_event_id


class SnapshotWaiter(Protocol):
    """What the history needs of the recorder (api.events.recorder.EventRecorder)."""

    async def wait_snapshot(self, event_id: str, timeout_s: float) -> None: ...


@dataclass(frozen=True, slots=True)
class SavedClip:
    """An event's clip file, leased against retention until `release()` is called."""

    path: Path
    size: int
    filename: str
    release: Callable[[], None]


class EventHistory:
    """Reads go to the store; deletions take the files with the records and tell apps."""

    def __init__(
        self,
        events: EventStore,
        deliveries: DeliveryStore,
        files: MediaFiles,
        notifications: Notifications,
        snapshots: SnapshotWaiter,
        *,
        media_wait_s: float,
        clip_retry_s: int,
    ) -> None:
        self._events = events
        self._deliveries = deliveries
        self._files = files
        self._notifications = notifications
        self._snapshots = snapshots
        self._media_wait_s = media_wait_s
        self._clip_retry_s = clip_retry_s

    async def page(
        self,
        *,
        camera: str | None,
        kinds: Collection[EventKind] | None,
        start_ms: int | None,
        end_ms: int | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[EventRecord], str | None]:
        """Events newest first, and the cursor of the next (older) page (None: the last)."""
        return await self._events.page(
            camera=camera, kinds=kinds, start_ms=start_ms, end_ms=end_ms, cursor=cursor, limit=limit
        )

    async def latest(self, camera: str) -> EventRecord | None:
        """The camera's newest event, if it has any."""
        records, _ = await self.page(
            camera=camera, kinds=None, start_ms=None, end_ms=None, cursor=None, limit=1
        )
        return records[0] if records else None

    async def get(self, event_id: str) -> EventRecord:
        if not is_event_id(event_id):
            raise BadRequest("event_id", f"an event id is a lowercase UUID; got {event_id!r}")
        record = await self._events.get(event_id)
        if record is None:
            raise NotFound("event", event_id)
        return record

    async def deliveries(self, event_id: str) -> list[DeliveryRecord]:
        return await self._deliveries.for_event(event_id)

    async def snapshot(self, event_id: str) -> bytes:
        """The JPEG of the frame at the event's time. Right after the event the frame may not
        be in the buffer yet (about 1-2 s): this waits for it, so a push's image loads."""
        record = await self.get(event_id)
        if record.snapshot_state == "pending":
            await self._snapshots.wait_snapshot(event_id, self._media_wait_s)
            record = await self.get(event_id)
        if record.snapshot_state == "pending":
            raise MediaPending("the snapshot is still being made", retry_after_s=1)
        if record.snapshot_state != "ready" or record.snapshot_path is None:
            raise NoMedia(
                f"this event has no snapshot (state {record.snapshot_state})",
                record.snapshot_state,
            )
        try:
            return await asyncio.to_thread(self._files.path(record.snapshot_path).read_bytes)
        except FileNotFoundError:
            raise NotFound("snapshot of event", event_id) from None

    async def clip(self, event_id: str) -> SavedClip:
        """The saved clip, leased: retention keeps it until the caller releases it."""
        record = await self.get(event_id)
        rel = record.clip_path
        if record.clip_state != "ready" or rel is None:
            retry = self._clip_retry_s if record.clip_state == "pending" else None
            raise NoMedia(
                f"this event has no saved clip (state {record.clip_state})",
                record.clip_state,
                retry_after_s=retry,
            )
        path = self._files.path(rel)
        self._files.acquire(rel)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            self._files.release(rel)
            raise NotFound("clip of event", event_id) from None
        filename = f"{record.camera}-{event_id[:8]}-{record.kind}.mp4"
        return SavedClip(path, size, filename, lambda: self._files.release(rel))

    async def delete(self, ids: Collection[str]) -> list[str]:
        """Delete these events and their files; the ids that were there."""
        for event_id in ids:
            if not is_event_id(event_id):
                raise BadRequest("ids", f"an event id is a lowercase UUID; got {event_id!r}")
        deleted = await self._events.delete(ids)
        await self._files.remove([p for e in deleted for p in (e.clip_path, e.snapshot_path)])
        gone = [e.id for e in deleted]
        self._notifications.deleted(gone)
        return gone

    async def clear(self) -> int:
        """Delete every event and file; how many events there were."""
        deleted = await self._events.clear()
        await self._files.remove([p for e in deleted for p in (e.clip_path, e.snapshot_path)])
        self._notifications.cleared(len(deleted))
        return len(deleted)
