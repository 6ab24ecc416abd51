"""The resources one running server shares with its routes (lifespan state)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from api.clips import ClipService
from api.config import CameraSettings, Settings
from api.errors import NotFound
from api.events import Devices, EventService
from api.hub import Hub
from api.media import MediaFiles
from api.metrics import Metrics
from api.ports import CameraBuffer
from api.push.dispatcher import PushDispatcher
from api.recorder import EventRecorder
from api.signing import UrlSigner
from api.store import Database
from api.supervisor import Supervisor

# A segment newer than this means the camera is publishing (segments come every second).
RECEIVING_WITHIN_MS = 3000


@dataclass(slots=True)
class Publisher:
    """Who is publishing a camera right now, as the relay told us."""

    addr: str
    client_id: str
    since_ms: int


@dataclass(slots=True)
class Services:
    """Built by the lifespan, reached by routes as `request.state.services`."""

    settings: Settings
    supervisor: Supervisor
    buffers: dict[str, CameraBuffer[Any]]
    relay_enabled: bool
    signer: UrlSigner
    clips: ClipService
    db: Database
    events: EventService
    devices: Devices
    media: MediaFiles
    hub: Hub
    recorder: EventRecorder
    dispatcher: PushDispatcher
    metrics: Metrics
    publishers: dict[str, Publisher] = field(default_factory=dict)

    @property
    def api_tokens(self) -> list[str]:
        return [t.get_secret_value() for t in self.settings.api_tokens]

    def camera(self, camera_id: str) -> CameraSettings:
        camera = self.settings.camera(camera_id)
        if camera is None:
            raise NotFound("camera", camera_id, [c.id for c in self.settings.cameras])
        return camera

    def is_online(self, camera_id: str) -> bool:
        """Publishing now: the relay said so, or segments are arriving. The second half covers a
        server restarted behind an external relay, which repeats no on_publish."""
        if camera_id in self.publishers:
            return True
        buffer = self.buffers.get(camera_id)
        if buffer is None:
            return False
        age = buffer.stats().last_segment_age_ms
        return age is not None and age < RECEIVING_WITHIN_MS

    def publish_started(self, camera_id: str, addr: str, client_id: str) -> None:
        self.publishers[camera_id] = Publisher(addr, client_id, time.time_ns() // 1_000_000)
        buffer = self.buffers.get(camera_id)
        if buffer is not None:
            buffer.notify_publish()

    def publish_done(self, camera_id: str, client_id: str) -> bool:
        """Forget the publisher if it is the one that ended (a refused duplicate is not)."""
        current = self.publishers.get(camera_id)
        if current is None or current.client_id != client_id:
            return False
        del self.publishers[camera_id]
        return True
