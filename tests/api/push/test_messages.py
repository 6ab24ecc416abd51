"""What a push says and its FCM v1 form per platform (no network: the SDK's objects)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from firebase_admin import messaging

from api.events.model import EventRecord
from api.push.messages import (
    PushMessage,
    alert_message,
    apns_collapse_id,
    clip_ready_message,
    to_fcm,
)
from common.events import EventKind

LINK = "doorbell://events/0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10"
IMAGE = "https://door.example/api/events/e1/snapshot.jpg?exp=1&sig=abc"


def event(kind: EventKind = "ring") -> EventRecord:
    return EventRecord(
        id="0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", camera="front", kind=kind,
        at_ms=1_720_000_000_123, agent_at_ms=1_720_000_000_100, clock_offset_ms=23,
        received_ms=1_720_000_000_200,
    )  # fmt: skip


def ring(image: str | None = IMAGE, ttl_s: int = 60) -> PushMessage:
    return alert_message(event("ring"), "Front door", image, LINK, ttl_s)


def test_ring_alert() -> None:
    message = ring()
    assert message.kind == "alert"
    assert message.title == "Someone is at the door"
    assert message.body is not None
    assert "Front door" in message.body
    assert not re.search(r"\d", message.title + message.body)  # no times: the app localises
    assert (message.priority, message.ttl_s, message.collapse_key) == ("high", 60, "ring-front")
    assert message.image_url == IMAGE
    assert message.time_sensitive
    assert message.data == {
        "type": "alert", "event_id": "0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", "camera": "front",
        "camera_name": "Front door", "kind": "ring", "at_ms": "1720000000123", "link": LINK,
    }  # fmt: skip


def test_motion_alert() -> None:
    message = alert_message(event("motion_start"), "Front door", None, LINK, 300)
    assert message.title == "Motion at Front door"
    assert (message.priority, message.ttl_s) == ("high", 300)
    assert message.collapse_key == "motion-front"
    assert not message.time_sensitive
    assert message.data["kind"] == "motion_start"
    assert all(isinstance(v, str) for v in message.data.values())


def test_motion_end_is_refused() -> None:
    with pytest.raises(ValueError, match="motion_end"):
        alert_message(event("motion_end"), "Front door", None, LINK, 60)


def test_clip_ready_is_data_only() -> None:
    message = clip_ready_message(event(), "https://door.example/clip.mp4?sig=x", 3600)
    assert message.data_only
    assert (message.title, message.body, message.image_url) == (None, None, None)
    assert message.priority == "normal"
    assert message.data == {
        "type": "clip_ready", "event_id": "0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10",
        "camera": "front", "clip_url": "https://door.example/clip.mp4?sig=x",
        "link": "https://door.example/clip.mp4?sig=x",
    }  # fmt: skip
    with_link = clip_ready_message(event(), "https://door.example/c.mp4", 60, deep_link=LINK)
    assert with_link.data["link"] == LINK


def test_ring_in_fcm_form() -> None:
    fcm = to_fcm(ring(), ["a", "b"], now_s=1_000_000.7)
    assert isinstance(fcm, messaging.MulticastMessage)
    assert fcm.tokens == ["a", "b"]
    assert fcm.data == ring().data
    assert (fcm.notification.title, fcm.notification.image) == ("Someone is at the door", IMAGE)
    android = fcm.android
    assert (android.priority, android.ttl, android.collapse_key) == ("high", 60, "ring-front")
    assert (android.notification.image, android.notification.tag) == (IMAGE, "ring-front")
    assert fcm.apns.headers == {
        "apns-priority": "10", "apns-push-type": "alert", "apns-expiration": "1000060",
        "apns-collapse-id": "ring-front",
    }  # fmt: skip
    aps = fcm.apns.payload.aps
    assert aps.mutable_content is True
    assert aps.content_available is None
    assert aps.sound == "default"
    assert aps.thread_id == "front"
    assert aps.custom_data == {"interruption-level": "time-sensitive"}
    assert fcm.apns.fcm_options.image == IMAGE
    assert fcm.webpush.headers == {"TTL": "60", "Urgency": "high", "Topic": "ring-front"}
    assert fcm.webpush.notification.image == IMAGE
    assert fcm.webpush.fcm_options is None  # not an https link


def test_alert_without_image_needs_no_service_extension() -> None:
    fcm = to_fcm(ring(image=None), ["a"], now_s=0)
    assert fcm.apns.payload.aps.mutable_content is None
    assert fcm.apns.fcm_options is None
    assert fcm.notification.image is None


def test_motion_alert_is_silent_on_ios() -> None:
    motion = alert_message(event("motion_start"), "Front door", IMAGE, LINK, 300)
    fcm = to_fcm(motion, ["a"], now_s=0)
    assert fcm.apns.headers["apns-priority"] == "10"
    assert fcm.apns.payload.aps.sound is None
    assert fcm.apns.payload.aps.custom_data is None


def test_clip_ready_in_fcm_form_is_a_background_push() -> None:
    message = clip_ready_message(event(), "https://door.example/clip.mp4", 3600)
    fcm = to_fcm(message, ["a"], now_s=2_000_000)
    assert fcm.notification is None
    assert fcm.android.notification is None
    assert fcm.android.priority == "normal"
    assert fcm.apns.headers == {
        "apns-priority": "5", "apns-push-type": "background", "apns-expiration": "2003600",
    }  # fmt: skip
    aps = fcm.apns.payload.aps
    assert (aps.content_available, aps.mutable_content, aps.sound) == (True, None, None)
    assert fcm.webpush.headers == {"TTL": "3600", "Urgency": "normal"}
    assert fcm.webpush.notification is None


def test_zero_ttl_is_now_or_never_on_apns() -> None:
    assert to_fcm(ring(ttl_s=0), ["a"], now_s=5).apns.headers["apns-expiration"] == "0"


def test_https_link_goes_to_webpush_options() -> None:
    message = alert_message(event(), "Front door", None, "https://door.example/e/1", 60)
    assert to_fcm(message, ["a"], now_s=0).webpush.fcm_options.link == "https://door.example/e/1"


def test_long_collapse_keys_fit_apns_and_web_push() -> None:
    long = dataclasses.replace(event(), camera="c" * 80)
    fcm = to_fcm(alert_message(long, "Long", None, LINK, 60), ["a"], now_s=0)
    collapse_id = fcm.apns.headers["apns-collapse-id"]
    assert len(collapse_id.encode()) <= 64
    assert collapse_id == apns_collapse_id("ring-" + "c" * 80)
    assert collapse_id != apns_collapse_id("ring-" + "d" * 80)
    assert "Topic" not in fcm.webpush.headers
    assert fcm.android.collapse_key == "ring-" + "c" * 80
