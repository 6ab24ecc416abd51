"""Telling people about events: open apps through the hub (server-sent events) and phones
through push (alerts by the devices' rules, then a clip-ready follow-up to those alerted)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from api.config import PushSettings
from api.events.accept import RECORDED
from api.events.devices import Devices
from api.events.hub import Hub, Notice
from api.events.model import DeviceRecord, EventRecord
from api.metrics import Metrics
from api.push.alerts import Signer, alert_push, clip_ready_push
from api.push.dispatcher import PushDispatcher, PushJob
from api.push.policy import MotionCooldown, RingCollapse, recipients
from common.clock import Clock, wall_ms

logger = logging.getLogger(__name__)


class Notifications:
    """Notices to open apps and pushes to phones. Devices alerted for an event whose clip is
    being made are remembered until it is saved (or fails, or the event is deleted)."""

    def __init__(
        self,
        hub: Hub,
        devices: Devices,
        dispatcher: PushDispatcher,
        *,
        push: PushSettings,
        camera_name: Callable[[str], str],
        signer: Signer,
        public_base: str,
        metrics: Metrics,
        clock: Clock = wall_ms,
    ) -> None:
        self._hub = hub
        self._devices = devices
        self._dispatcher = dispatcher
        self._push = push
        self._camera_name = camera_name
        self._signer = signer
        self._public_base = public_base
        self._metrics = metrics
        self._clock = clock
        self._cooldown = MotionCooldown(push.motion_cooldown_s * 1000)
        self._ring_collapse = RingCollapse(round(push.ring_collapse_s * 1000))
        self._alerted: dict[str, tuple[DeviceRecord, ...]] = {}

    # -- open apps ----------------------------------------------------------------------------
    def stored(self, event: EventRecord) -> None:
        self._hub.publish(Notice("event", event))

    def updated(self, event: EventRecord) -> None:
        self._hub.publish(Notice("event_updated", event))

    def deleted(self, ids: list[str]) -> None:
        for event_id in ids:
            self._alerted.pop(event_id, None)  # no clip will follow
        if ids:
            self._hub.publish(Notice("events_deleted", data={"ids": ids}))

    def cleared(self, count: int) -> None:
        self._alerted.clear()
        self._hub.publish(Notice("events_cleared", data={"count": count}))

    # -- phones ------------------------------------------------------------------------------
    async def alert(
        self, event: EventRecord, received_ns: int, stored: asyncio.Future[bool]
    ) -> None:
        """Push a ring or the start of motion to the devices whose rules want it. `stored`
        resolves once the event is committed: the push may leave before (a phone should not
        wait for a disk's fsync); its delivery log waits."""
        if event.kind == "motion_end":
            return
        if event.kind == "motion_start" and not self._cooldown.allow(event.camera, event.at_ms):
            return
        now_ms = self._clock()
        if event.kind == "ring" and not self._ring_collapse.allow(event.camera, now_ms):
            logger.debug("ring %s: collapsed into %s's last ring push", event.id, event.camera)
            return
        devices = recipients(event, await self._devices.all(), now_ms)
        if not devices:
            return
        message = alert_push(
            event,
            camera_name=self._camera_name(event.camera),
            push=self._push,
            signer=self._signer,
            public_base=self._public_base,
            now_ms=now_ms,
        )
        if message is None:
            return
        job = PushJob(event, message, tuple(devices), received_ns, stored)
        self._submit(job)
        if event.kind in RECORDED:
            self._alerted[event.id] = job.devices

    def forget(self, event_id: str) -> None:
        """No clip-ready follow-up for this event (it was not stored, or was stored before)."""
        self._alerted.pop(event_id, None)

    def media_updated(self, event: EventRecord) -> None:
        """From the recorder: a snapshot or clip is made (or failed). Apps hear of both; the
        devices alerted for the event get the clip-ready push, and only they."""
        self.updated(event)
        if event.clip_state in {"pending", "none"}:
            return
        alerted = self._alerted.pop(event.id, None)
        if event.clip_state == "ready" and alerted:
            message = clip_ready_push(
                event,
                camera_name=self._camera_name(event.camera),
                push=self._push,
                signer=self._signer,
                public_base=self._public_base,
                now_ms=self._clock(),
            )
            self._submit(PushJob(event, message, alerted, time.monotonic_ns()))

    def _submit(self, job: PushJob) -> None:
        if not self._dispatcher.submit(job):
            self._metrics.pushes.inc("queue_full")
            logger.error("push queue full: %s of event %s not sent", job.message.kind, job.event.id)
