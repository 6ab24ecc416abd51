"""What a push says, its FCM v1 form per platform (no network: the SDK's objects) and its
Web Push form (the service worker's JSON and the headers)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from firebase_admin import messaging

from api.events.model import EventRecord
from api.push.messages import (
    WEB_PUSH_MAX_PLAINTEXT,
    PushMessage,
    alert_message,
    apns_collapse_id,
    clip_ready_message,
    to_fcm,
    to_web_push,
    web_push_headers,
    web_push_topic,
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
    topic = fcm.webpush.headers["Topic"]  # a camera id of 32 makes "motion-<id>" too long
    assert topic == web_push_topic("ring-" + "c" * 80)
    assert fcm.android.collapse_key == "ring-" + "c" * 80


def test_web_push_topics_fit_and_keep_collapsing_apart() -> None:
    assert web_push_topic("ring-front") == "ring-front"
    assert web_push_topic(None) is None
    long_ring, long_motion = (
        web_push_topic("ring-" + "c" * 32),
        web_push_topic("motion-" + "c" * 32),
    )
    assert long_ring is not None
    assert long_motion is not None
    for topic in (long_ring, long_motion):
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", topic)
    assert long_ring != long_motion
    assert web_push_topic("ring-" + "c" * 32) == long_ring  # the same every time


def test_ring_in_web_push_form() -> None:
    payload = json.loads(to_web_push(ring()))
    assert payload == {
        "type": "alert", "title": "Someone is at the door", "body": "Doorbell rang at Front door",
        "image": IMAGE, "event_id": "0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", "camera": "front",
        "camera_name": "Front door", "kind": "ring", "at_ms": 1_720_000_000_123,
        "url": "/events/0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", "tag": "ring-front",
    }  # fmt: skip
    assert web_push_headers(ring(ttl_s=42)) == {
        "TTL": "42",
        "Urgency": "high",
        "Topic": "ring-front",
    }


def test_motion_in_web_push_form() -> None:
    motion = alert_message(event("motion_start"), "Front door", None, LINK, 300)
    payload = json.loads(to_web_push(motion))
    assert (payload["type"], payload["kind"], payload["tag"]) == (
        "alert",
        "motion_start",
        "motion-front",
    )
    assert (payload["title"], payload["body"], payload["image"]) == (
        "Motion at Front door",
        None,
        None,
    )
    assert web_push_headers(motion) == {"TTL": "300", "Urgency": "high", "Topic": "motion-front"}


def test_clip_ready_in_web_push_form() -> None:
    message = clip_ready_message(event("motion_start"), "https://door.example/c.mp4", 3600,
                                 camera_name="Front door")  # fmt: skip
    payload = json.loads(to_web_push(message))
    assert payload == {
        "type": "clip_ready", "title": None, "body": None, "image": None,
        "event_id": "0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", "camera": "front",
        "camera_name": "Front door", "kind": "motion_start", "at_ms": 1_720_000_000_123,
        "url": "/events/0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", "tag": None,
    }  # fmt: skip
    assert web_push_headers(message) == {"TTL": "3600", "Urgency": "normal"}
    unnamed = clip_ready_message(event(), "https://door.example/c.mp4", 60)
    assert json.loads(to_web_push(unnamed))["camera_name"] == "front"


def test_web_push_payload_fits_one_record_without_an_image_that_does_not() -> None:
    name = "🔔" * 100  # the longest name, in 4-byte characters: sent as UTF-8, not escapes
    message = alert_message(event(), name, "https://door.example/" + "x" * 4000, LINK, 60)
    data = to_web_push(message)
    assert len(data) <= WEB_PUSH_MAX_PLAINTEXT
    payload = json.loads(data)
    assert payload["image"] is None
    assert payload["camera_name"] == name
    assert name.encode() in data
    fits = alert_message(event(), name, IMAGE, LINK, 60)
    assert json.loads(to_web_push(fits))["image"] == IMAGE


def test_a_payload_that_cannot_fit_is_refused() -> None:
    message = dataclasses.replace(ring(), title="x" * WEB_PUSH_MAX_PLAINTEXT)
    with pytest.raises(ValueError, match="does not fit"):
        to_web_push(message)
