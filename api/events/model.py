"""Value objects of the event domain (events, devices, push deliveries), shared by the store,
the push dispatcher and the routes. A leaf: it imports nothing of `api` (only `common`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.events import EventKind

# pending: not made yet; ready: on disk; failed: could not be made (no video at that time);
# none: this kind gets none (motion_end); expired: removed by retention, the record stays.
MediaState = Literal["none", "pending", "ready", "failed", "error", "expired"]
Platform = Literal["android", "ios", "web"]
PLATFORMS: tuple[Platform, ...] = ("android", "ios", "web")
# How a device is reached: FCM (a registration token) or standard Web Push (a subscription).
Channel = Literal["fcm", "web_push"]
CHANNELS: tuple[Channel, ...] = ("fcm", "web_push")
MessageKind = Literal["alert", "clip_ready"]
# What one push attempt to one device came to. sent: the push service (FCM or a Web Push
# service) accepted it. unregistered/invalid: the token or subscription is dead (the device is
# deleted). unavailable/internal/quota: transient, retried. error: refused, not retried.
# expired: not (re)tried because the message's TTL had passed. logged: the channel is not
# set up (no FCM credentials, Web Push turned off): only logged.
PushOutcome = Literal[
    "sent",
    "unregistered",
    "invalid",
    "unavailable",
    "internal",
    "quota",
    "error",
    "expired",
    "logged",
]
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event. Times are UTC epoch ms on the server's clock unless named agent_."""

    id: str  # lowercase hyphenated UUID, chosen by the agent
    camera: str
    kind: EventKind
    at_ms: int  # when it happened, on the server clock (agent time + clock offset)
    agent_at_ms: int  # as the agent reported it, on its own clock
    clock_offset_ms: int | None  # server minus agent clock, as the agent measured it
    received_ms: int  # when the server received it
    score: float | None = None
    box: Box | None = None
    ended_at_ms: int | None = None  # motion_start: when its motion_end happened
    snapshot_state: MediaState = "pending"
    snapshot_path: str | None = None  # relative to the media directory
    snapshot_at_ms: int | None = None  # time of the frame in the snapshot
    clip_state: MediaState = "pending"
    clip_path: str | None = None  # relative to the media directory
    clip_start_ms: int | None = None
    clip_end_ms: int | None = None
    clip_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in the device's own time zone in which motion is not pushed (rings
    still are). `start` after `end` wraps midnight (22:00-07:00)."""

    start: str  # "HH:MM"
    end: str  # "HH:MM"
    timezone: str  # IANA name, e.g. "Europe/Berlin"


@dataclass(frozen=True, slots=True)
class WebPushKeys:
    """A browser's Web Push subscription keys (RFC 8291), unpadded base64url as the browser
    gives them."""

    p256dh: str  # its P-256 public key, an uncompressed point (65 bytes)
    auth: str  # the 16-byte authentication secret


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A phone (or browser) registered for push, with its preferences."""

    id: str  # UUID chosen by the server
    token: str  # unique: the FCM registration token, or the Web Push endpoint URL
    platform: Platform
    name: str
    cameras: tuple[str, ...] | None  # None: every camera
    motion: bool  # push motion events too (rings are always pushed)
    quiet_hours: QuietHours | None
    created_ms: int
    updated_ms: int
    channel: Channel = "fcm"
    web_push_keys: WebPushKeys | None = None  # with channel "web_push" only


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One push attempt to one device for one event: the delivery log the app shows."""

    id: int
    event_id: str
    device_id: str | None  # None once the device was deleted
    device_name: str
    message: MessageKind
    attempt: int  # 1 for the first try
    at_ms: int
    outcome: PushOutcome
    message_id: str | None = None  # FCM's name for a sent message
    error: str | None = None
