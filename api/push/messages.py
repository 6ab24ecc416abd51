"""What a push says (PushMessage, built from an event), its FCM v1 form per platform, and its
Web Push form (the JSON a browser's service worker receives, and the headers that go with it)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from firebase_admin import messaging

from api.events.model import EventRecord, MessageKind
from common.clock import wall_ms
from common.events import EventKind

Priority = Literal["high", "normal"]

# Apple caps apns-collapse-id at 64 bytes; Web Push's Topic header at 32 URL-safe base64 chars.
_APNS_COLLAPSE_MAX = 64
_WEBPUSH_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
# A push service must accept 4096 bytes of body (RFC 8030); aes128gcm with one record adds a
# 86-byte header (salt, record size, the sender's 65-byte key), a 1-byte delimiter and a 16-byte
# tag (RFC 8188, RFC 8291), which leaves this much for the JSON.
WEB_PUSH_MAX_PLAINTEXT = 4096 - 86 - 1 - 16


@dataclass(frozen=True, slots=True)
class PushEvent:
    """The event a push is about, as a browser's service worker is told of it."""

    id: str
    camera: str
    camera_name: str
    kind: EventKind
    at_ms: int


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One notification, independent of platform. title and body both None: data-only."""

    kind: MessageKind
    title: str | None
    body: str | None
    image_url: str | None
    data: dict[str, str]  # FCM data is str -> str
    priority: Priority
    ttl_s: int
    collapse_key: str | None
    event: PushEvent
    # Rings: the default sound and iOS's time-sensitive interruption level (breaks through a
    # Focus mode when the user allowed it). Motion arrives as a plain, silent-by-default alert.
    time_sensitive: bool = field(default=False)

    @property
    def data_only(self) -> bool:
        return self.title is None and self.body is None


def alert_message(
    event: EventRecord, camera_name: str, image_url: str | None, deep_link: str, ttl_s: int
) -> PushMessage:
    """The user-visible alert for a ring or the start of motion. Times stay out of the text:
    `at_ms` travels in the data and the app formats it in the phone's locale and zone."""
    about = PushEvent(event.id, event.camera, camera_name, event.kind, event.at_ms)
    data = {
        "type": "alert",
        "event_id": event.id,
        "camera": event.camera,
        "camera_name": camera_name,
        "kind": event.kind,
        "at_ms": str(event.at_ms),
        "link": deep_link,
    }
    if event.kind == "ring":
        return PushMessage(
            kind="alert",
            title="Someone is at the door",
            body=f"Doorbell rang at {camera_name}",
            image_url=image_url,
            data=data,
            priority="high",
            ttl_s=ttl_s,
            collapse_key=f"ring-{event.camera}",
            event=about,
            time_sensitive=True,
        )
    if event.kind == "motion_start":
        # High priority too. Android reserves it for time-critical messages the user sees, and
        # demotes apps whose high-priority messages show nothing; this one always shows a
        # notification. At normal priority a phone in Doze holds it until its next
        # maintenance window (minutes), when "motion at the door" is worthless. The volume is
        # bounded: one per camera per cooldown, only to devices that opted into motion.
        return PushMessage(
            kind="alert",
            title=f"Motion at {camera_name}",
            body=None,
            image_url=image_url,
            data=data,
            priority="high",
            ttl_s=ttl_s,
            collapse_key=f"motion-{event.camera}",
            event=about,
        )
    raise ValueError(f"{event.kind} events are never pushed")


def clip_ready_message(
    event: EventRecord,
    clip_url: str,
    ttl_s: int,
    *,
    deep_link: str | None = None,
    camera_name: str | None = None,
) -> PushMessage:
    """Data-only: tells the app the event's clip can be fetched. Normal priority (nothing is
    shown, so Android would demote high) and no collapse key (one per event). `link` is the
    event's deep link when given, else the clip's URL; `camera_name` defaults to the id."""
    return PushMessage(
        kind="clip_ready",
        title=None,
        body=None,
        image_url=None,
        data={
            "type": "clip_ready",
            "event_id": event.id,
            "camera": event.camera,
            "clip_url": clip_url,
            "link": clip_url if deep_link is None else deep_link,
        },
        priority="normal",
        ttl_s=ttl_s,
        collapse_key=None,
        event=PushEvent(
            event.id, event.camera, camera_name or event.camera, event.kind, event.at_ms
        ),
    )


def apns_collapse_id(key: str) -> str:
    """`key`, or a digest of it when it is longer than APNs allows."""
    if len(key.encode()) <= _APNS_COLLAPSE_MAX:
        return key
    return "c-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def web_push_topic(collapse_key: str | None) -> str | None:
    """The Web Push `Topic` (at most 32 URL-safe base64 characters, RFC 8030) that collapses
    like `collapse_key`: the key itself when it fits, else a digest of it (a long camera id)."""
    if collapse_key is None:
        return None
    if _WEBPUSH_TOPIC.fullmatch(collapse_key):
        return collapse_key
    digest = hashlib.sha256(collapse_key.encode()).digest()
    return "t-" + base64.urlsafe_b64encode(digest).decode()[:30]


def web_push_headers(message: PushMessage) -> dict[str, str]:
    """TTL (what is left of it), Urgency (rings and motion high, as FCM's priority) and Topic
    (one notification per camera and kind waiting at the push service)."""
    headers = {"TTL": str(message.ttl_s), "Urgency": message.priority}
    topic = web_push_topic(message.collapse_key)
    if topic is not None:
        headers["Topic"] = topic
    return headers


def to_web_push(message: PushMessage) -> bytes:
    """The JSON a browser's service worker receives (docs/api.md, "Web Push"), UTF-8. It is
    kept within what one encrypted 4096-byte record holds: if the image URL makes it too
    long (a very long public_url), it goes without the image. Every other field is bounded
    (camera names by the settings, ids by their rules), so it always fits without it."""
    event = message.event
    payload: dict[str, object] = {
        "type": message.kind,
        "title": message.title,
        "body": message.body,
        "image": message.image_url,
        "event_id": event.id,
        "camera": event.camera,
        "camera_name": event.camera_name,
        "kind": event.kind,
        "at_ms": event.at_ms,
        "url": f"/events/{event.id}",
        "tag": message.collapse_key,
    }
    data = _json(payload)
    if len(data) > WEB_PUSH_MAX_PLAINTEXT and payload["image"] is not None:
        payload["image"] = None
        data = _json(payload)
    if len(data) > WEB_PUSH_MAX_PLAINTEXT:
        raise ValueError(f"a Web Push payload of {len(data)} bytes does not fit in one record")
    return data


def _json(payload: dict[str, object]) -> bytes:
    # UTF-8 rather than \u escapes: a name in another script takes half the bytes.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def to_fcm(message: PushMessage, tokens: Sequence[str], *, now_s: float | None = None) -> Any:
    """The firebase-admin MulticastMessage for `tokens` (at most 500). `now_s` (epoch
    seconds, default: now) dates the APNs expiry."""
    now = wall_ms() / 1000 if now_s is None else now_s
    alert = not message.data_only
    high = message.priority == "high"
    image = message.image_url if alert else None
    notification = (
        messaging.Notification(title=message.title, body=message.body, image=image)
        if alert
        else None
    )
    parts = {
        "data": dict(message.data),
        "notification": notification,
        "android": _android(message, image),
        "apns": _apns(message, image, high=high, now_s=now),
        "webpush": _webpush(message, image),
    }
    # firebase-admin 7.7 deprecates targeting registration tokens in favour of Firebase
    # Installation IDs (`fids`), which apps must opt into registering. Our devices register
    # FCM registration tokens, which FCM still accepts, so we keep `tokens` and silence just
    # that warning, as the SDK does itself when it splits a multicast into messages.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"MulticastMessage\.tokens is deprecated", DeprecationWarning
        )
        return messaging.MulticastMessage(tokens=list(tokens), **parts)


def _android(message: PushMessage, image: str | None) -> Any:
    notification = None
    if not message.data_only:
        # The tag replaces this camera's previous notification in the tray.
        notification = messaging.AndroidNotification(image=image, tag=message.collapse_key)
    return messaging.AndroidConfig(
        collapse_key=message.collapse_key,
        priority=message.priority,
        ttl=message.ttl_s,
        notification=notification,
    )


def _apns(message: PushMessage, image: str | None, *, high: bool, now_s: float) -> Any:
    alert = not message.data_only
    headers = {
        # Apple: 10 delivers at once, 5 when convenient for the battery; background
        # (content-available) pushes must use 5.
        "apns-priority": "10" if alert and high else "5",
        "apns-push-type": "alert" if alert else "background",
        # 0: deliver now or never (APNs does not store it).
        "apns-expiration": str(int(now_s) + message.ttl_s) if message.ttl_s > 0 else "0",
    }
    if message.collapse_key is not None:
        headers["apns-collapse-id"] = apns_collapse_id(message.collapse_key)
    aps = messaging.Aps(
        sound="default" if alert and message.time_sensitive else None,
        thread_id=message.data.get("camera") if alert else None,
        # A notification service extension downloads and attaches the image.
        mutable_content=True if image else None,
        content_available=True if not alert else None,
        custom_data={"interruption-level": "time-sensitive"}
        if alert and message.time_sensitive
        else None,
    )
    return messaging.APNSConfig(
        headers=headers,
        payload=messaging.APNSPayload(aps=aps),
        fcm_options=messaging.APNSFCMOptions(image=image) if image else None,
    )


def _webpush(message: PushMessage, image: str | None) -> Any:
    headers = web_push_headers(message)
    notification = None
    if not message.data_only:
        notification = messaging.WebpushNotification(
            title=message.title, body=message.body, image=image, tag=message.collapse_key
        )
    link = message.data.get("link", "")
    # FCM accepts only HTTPS links here; the app's own scheme travels in the data.
    options = messaging.WebpushFCMOptions(link=link) if link.startswith("https://") else None
    return messaging.WebpushConfig(headers=headers, notification=notification, fcm_options=options)
