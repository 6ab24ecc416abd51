"""The event domain's front: an agent event is stored (idempotent by id), then announced to
open apps, pushed to phones and given its snapshot and clip; deletion takes the files too."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Collection

from api.config import Settings
from api.errors import Conflict
from api.hub import Hub, Notice
from api.ingest import RECORDED, AgentEvent, same_event, to_record
from api.media import MediaFiles
from api.metrics import Metrics
from api.push.dispatcher import PushDispatcher, PushJob
from api.push.messages import alert_message, clip_ready_message
from api.push.policy import MotionCooldown, recipients
from api.recorder import EventRecorder
from api.records import DeviceRecord, EventRecord
from api.retention import Retention
from api.signing import UrlSigner
from api.store import Database
from api.views import event_out

logger = logging.getLogger(__name__)

# Event ids remembered as pushed already: agent retries come within minutes, not thousands.
RECENT_IDS = 10_000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Devices:
    """The registered devices, cached in memory for the push path (one query per change, not
    one per event). Also the dispatcher's TokenRegistry: a dead token deletes its device."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: list[DeviceRecord] | None = None

    async def all(self) -> list[DeviceRecord]:
        if self._cache is None:
            self._cache = await self._db.devices.list()
        return self._cache

    def changed(self) -> None:
        self._cache = None

    async def forget_token(self, token: str) -> bool:
        forgotten = await self._db.devices.forget_token(token)
        self.changed()
        if forgotten:
            logger.info("device with token ...%s deleted: FCM says it is gone", token[-8:])
        return forgotten


class EventService:
    """Owns what happens to an event after it is accepted."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        media: MediaFiles,
        hub: Hub,
        signer: UrlSigner,
        metrics: Metrics,
        devices: Devices,
        dispatcher: PushDispatcher,
        recorder: EventRecorder,
        retention: Retention,
    ) -> None:
        self._settings = settings
        self._db = db
        self._media = media
        self._hub = hub
        self._signer = signer
        self._metrics = metrics
        self._devices = devices
        self._dispatcher = dispatcher
        self._recorder = recorder
        self._retention = retention
        self._cooldown = MotionCooldown(settings.push.motion_cooldown_s * 1000)
        # Devices alerted for an event whose clip is being made: they get the clip-ready push.
        self._alerted: dict[str, tuple[DeviceRecord, ...]] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()

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
            await self._push_alert(record, received_ns, stored_future)
        try:
            stored, created = await self._db.events.add(record)
        except BaseException:
            if stored_future is not None:
                stored_future.set_result(False)  # nothing to log the attempts against
                self._alerted.pop(record.id, None)
            raise
        if stored_future is not None:
            stored_future.set_result(created)
        self._remember(record.id)
        if not created:
            if stored_future is not None:
                # Pushed just now for an id stored before this process (a retry across a
                # restart): the stored event's clip, if any, was followed up then.
                self._alerted.pop(record.id, None)
            if not same_event(stored, record):
                raise Conflict(
                    f"event {event.id} already exists as a different event "
                    f"({stored.kind} of {stored.camera} at agent time {stored.agent_at_ms})"
                )
            return stored, False
        self._metrics.events.inc(stored.camera, stored.kind)
        self._notice("event", stored)
        if stored.kind == "motion_end":
            await self._close_motion(stored)
        self._recorder.record(stored)
        return stored, True

    def _remember(self, event_id: str) -> None:
        self._recent[event_id] = None
        self._recent.move_to_end(event_id)
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)

    async def delete(self, ids: Collection[str]) -> list[str]:
        deleted = await self._db.events.delete(ids)
        await self._media.remove([p for e in deleted for p in (e.clip_path, e.snapshot_path)])
        gone = [e.id for e in deleted]
        for event_id in gone:
            self._alerted.pop(event_id, None)  # no clip will follow
        if gone:
            self.deleted(gone)
        return gone

    async def clear(self) -> int:
        deleted = await self._db.events.clear()
        await self._media.remove([p for e in deleted for p in (e.clip_path, e.snapshot_path)])
        self._alerted.clear()
        self._hub.publish(Notice("events_cleared", {"count": len(deleted)}))
        return len(deleted)

    def deleted(self, ids: list[str]) -> None:
        self._hub.publish(Notice("events_deleted", {"ids": ids}))

    def media_updated(self, record: EventRecord) -> None:
        """From the recorder: a snapshot or clip is made (or failed)."""
        self._notice("event_updated", record)
        if record.clip_state in {"pending", "none"}:
            return
        # The clip's follow-up goes to the devices alerted for the event, and only to them.
        alerted = self._alerted.pop(record.id, None)
        if record.clip_state == "ready":
            self._retention.kick()
            if alerted:
                self._push_clip_ready(record, alerted)

    # -- internals -------------------------------------------------------------------------
    def _notice(self, kind: str, record: EventRecord) -> None:
        body = event_out(record, self._signer).model_dump(mode="json")
        self._hub.publish(Notice(kind, body, id=record.id))

    async def _close_motion(self, end: EventRecord) -> None:
        start = await self._db.events.open_motion(end.camera)
        if start is None or start.at_ms > end.at_ms:
            return
        updated = await self._db.events.set_ended(start.id, end.at_ms)
        self._recorder.motion_ended(start.id, end.at_ms)
        if updated is not None:
            self._notice("event_updated", updated)

    async def _push_alert(
        self, event: EventRecord, received_ns: int, stored: asyncio.Future[bool]
    ) -> None:
        if event.kind == "motion_end":
            return
        if event.kind == "motion_start" and not self._cooldown.allow(event.camera, event.at_ms):
            return
        devices = recipients(event, await self._devices.all(), wall_ms())
        if not devices:
            return
        push = self._settings.push
        # The TTL counts from the event, not from its arrival: a ring an agent delivers from
        # its outbox minutes late is history for the event log, not a reason to buzz a phone.
        full_ttl = push.ring_ttl_s if event.kind == "ring" else push.motion_ttl_s
        age_s = max(wall_ms() - event.at_ms, 0) // 1000
        if full_ttl and age_s >= full_ttl:
            logger.info("event %s is %d s old: not pushed", event.id, age_s)
            return
        ttl = full_ttl - age_s if full_ttl else 0  # 0: now or never, as FCM reads it
        camera = self._settings.camera(event.camera)
        image = self._absolute(
            self._signer.sign(f"/api/v1/events/{event.id}/snapshot.jpg", exp=self._exp(ttl))
        )
        message = alert_message(
            event,
            camera.display_name if camera else event.camera,
            image,
            push.deep_link.format(id=event.id),
            ttl,
        )
        job = PushJob(event, message, tuple(devices), received_ns, stored)
        self._submit(job)
        if event.kind in RECORDED:
            self._alerted[event.id] = job.devices

    def _push_clip_ready(self, event: EventRecord, devices: tuple[DeviceRecord, ...]) -> None:
        ttl = self._settings.push.clip_ready_ttl_s
        url = self._absolute(
            self._signer.sign(f"/api/v1/events/{event.id}/clip.mp4", exp=self._exp(ttl))
        )
        message = clip_ready_message(
            event, url, ttl, deep_link=self._settings.push.deep_link.format(id=event.id)
        )
        self._submit(PushJob(event, message, devices, time.monotonic_ns()))

    def _submit(self, job: PushJob) -> None:
        if not self._dispatcher.submit(job):
            self._metrics.pushes.inc("queue_full")
            logger.error("push queue full: %s of event %s not sent", job.message.kind, job.event.id)

    def _exp(self, ttl_s: int) -> int:
        return int(time.time()) + max(ttl_s, self._signer.ttl_s)

    def _absolute(self, path: str) -> str:
        return self._settings.public_base + path
