"""Who publishes each camera now: what the relay's callbacks said, or segments arriving."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.video.ports import CameraBuffer
from common.clock import Clock, wall_ms

# A segment newer than this means the camera is publishing (segments come every second).
RECEIVING_WITHIN_MS = 3000


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who is publishing a camera right now, as the relay told us."""

    addr: str
    client_id: str
    since_ms: int


class Presence:
    """Publishers by camera, from nginx-rtmp's on_publish / on_publish_done callbacks."""

    def __init__(self, buffers: Mapping[str, CameraBuffer[Any]], clock: Clock = wall_ms) -> None:
        self._buffers = buffers
        self._clock = clock
        self._publishers: dict[str, Publisher] = {}
        self._left_ms: dict[str, int] = {}  # when the last publisher of a camera left

    def is_online(self, camera_id: str) -> bool:
        """Publishing now: the relay said so, or segments are arriving. The second half covers a
        server restarted behind an external relay, which repeats no on_publish."""
        return camera_id in self._publishers or self._receiving(camera_id)

    def publisher(self, camera_id: str) -> Publisher | None:
        return self._publishers.get(camera_id)

    def live_publisher(self, camera_id: str) -> Publisher | None:
        """The publisher the relay accepted, if its video is arriving now: proof that it
        still publishes. A publisher without arriving video may be a stale record (a relay
        restarted without on_publish_done) and does not count."""
        publisher = self._publishers.get(camera_id)
        return publisher if publisher is not None and self._receiving(camera_id) else None

    def _receiving(self, camera_id: str) -> bool:
        buffer = self._buffers.get(camera_id)
        if buffer is None:
            return False
        age = buffer.stats().last_segment_age_ms
        return age is not None and age < RECEIVING_WITHIN_MS

    def since_ms(self, camera_id: str) -> int | None:
        """When the camera's present state began, as far as this server knows: the publish
        it is online by, or when it went offline (its publisher left, else its last video);
        None when unknown (online by arriving segments alone, or never seen)."""
        publisher = self._publishers.get(camera_id)
        if publisher is not None:
            return publisher.since_ms
        if self.is_online(camera_id):
            return None
        buffer = self._buffers.get(camera_id)
        newest = None if buffer is None else buffer.stats().newest_ms
        left = self._left_ms.get(camera_id)
        if left is not None and (newest is None or left >= newest):
            return left
        return newest

    def publish_started(self, camera_id: str, addr: str, client_id: str) -> None:
        """The relay accepted a publisher: note it and wake the camera's segmenter."""
        self._publishers[camera_id] = Publisher(addr, client_id, self._clock())
        buffer = self._buffers.get(camera_id)
        if buffer is not None:
            buffer.notify_publish()

    def publish_done(self, camera_id: str, client_id: str) -> bool:
        """Forget the publisher if it is the one that ended (a refused duplicate is not)."""
        current = self._publishers.get(camera_id)
        if current is None or current.client_id != client_id:
            return False
        del self._publishers[camera_id]
        self._left_ms[camera_id] = self._clock()
        return True

    def relay_exited(self) -> None:
        """The relay process ended: its publishers went with it, and nginx never told us
        (no on_publish_done). Forget them, so that a publisher coming back to the restarted
        relay is not taken for a second one while the first is still "live"."""
        now = self._clock()
        for camera_id in list(self._publishers):
            del self._publishers[camera_id]
            self._left_ms[camera_id] = now
