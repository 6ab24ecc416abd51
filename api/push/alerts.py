"""What to push for an event (pure): its TTL counted from the event, the signed snapshot
image, the deep link, and the clip-ready follow-up. No I/O and no clock of its own."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from api.config import PushSettings
from api.events.model import EventRecord
from api.push.messages import PushMessage, alert_message, clip_ready_message

logger = logging.getLogger(__name__)


class Signer(Protocol):
    """Mints signed URLs (api.http.signing.UrlSigner)."""

    @property
    def ttl_s(self) -> int: ...

    def sign(
        self, path: str, query: Mapping[str, str] | None = None, exp: int | None = None
    ) -> str: ...


def _expiry_s(now_ms: int, ttl_s: int, signer: Signer) -> int:
    # A URL in a push lives as long as the push may wait, and at least as long as any other.
    return now_ms // 1000 + max(ttl_s, signer.ttl_s)


def alert_push(
    event: EventRecord,
    *,
    camera_name: str,
    push: PushSettings,
    signer: Signer,
    public_base: str,
    now_ms: int,
) -> PushMessage | None:
    """The alert for a ring or the start of motion; None when it is too old to be worth a
    buzz. The TTL counts from the event, not from its arrival: a ring an agent delivers from
    its outbox minutes late is history for the event log, not a reason to buzz a phone."""
    full_ttl = push.ring_ttl_s if event.kind == "ring" else push.motion_ttl_s
    age_s = max(now_ms - event.at_ms, 0) // 1000
    if full_ttl and age_s >= full_ttl:
        logger.info("event %s is %d s old: not pushed", event.id, age_s)
        return None
    ttl = full_ttl - age_s if full_ttl else 0  # 0: now or never, as FCM reads it
    image = public_base + signer.sign(
        f"/api/v1/events/{event.id}/snapshot.jpg", exp=_expiry_s(now_ms, ttl, signer)
    )
    return alert_message(event, camera_name, image, push.deep_link.format(id=event.id), ttl)


def clip_ready_push(
    event: EventRecord,
    *,
    camera_name: str,
    push: PushSettings,
    signer: Signer,
    public_base: str,
    now_ms: int,
) -> PushMessage:
    """The data-only follow-up once an alerted event's clip is saved."""
    ttl = push.clip_ready_ttl_s
    url = public_base + signer.sign(
        f"/api/v1/events/{event.id}/clip.mp4", exp=_expiry_s(now_ms, ttl, signer)
    )
    return clip_ready_message(
        event, url, ttl, deep_link=push.deep_link.format(id=event.id), camera_name=camera_name
    )
