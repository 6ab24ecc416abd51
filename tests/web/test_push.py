"""Web Push end to end: the app subscribes this browser (its PushManager answered by a fake
push service on loopback, since Chromium's own subscribes through Google), the server sends
a ring to that service, which decrypts it (aes128gcm) as the browser would; then the payload
is delivered to the app's real service worker (CDP), which shows the notification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.conftest import wait_for
from tests.fakewebpush import FakeWebPush, Subscription
from tests.stack.harness import TOKEN
from tests.web.conftest import PHONE, Stack, sign_in
from tests.web.test_app import ring

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def push_service() -> Iterator[FakeWebPush]:
    with FakeWebPush() as service:
        yield service


def stub_push_manager(subscription: Subscription) -> str:
    """A page script: PushManager answers with the fake service's subscription."""
    body = json.dumps(subscription.as_json())
    return f"""(() => {{
        const json = {body};
        let active = false;
        const sub = {{
            endpoint: json.endpoint, expirationTime: null, options: {{ userVisibleOnly: true }},
            toJSON: () => json,
            unsubscribe: async () => {{ active = false; return true; }},
        }};
        PushManager.prototype.subscribe = async function () {{ active = true; return sub; }};
        PushManager.prototype.getSubscription = async function () {{ return active ? sub : null; }};
    }})();"""


@pytest.fixture
def subscribed(
    browser: Browser, stack: Stack, push_service: FakeWebPush
) -> Iterator[tuple[BrowserContext, Page, Subscription]]:
    key = httpx.get(f"{stack.base}/api/v1/push/web", headers=AUTH, timeout=10).json()
    subscription = push_service.subscribe(application_server_key=key["public_key"])
    context = browser.new_context(base_url=stack.base, **PHONE)
    context.set_default_timeout(15_000)
    context.grant_permissions(["notifications"])
    context.add_init_script(stub_push_manager(subscription))
    page = context.new_page()
    sign_in(page)
    expect(page.get_by_role("heading", name="Cameras")).to_be_visible()
    page.goto("/settings")
    page.get_by_role("button", name="Turn on notifications").click()
    wait_for("the browser registered for push", lambda: registered(stack, subscription), 20)
    yield context, page, subscription
    context.close()


def registered(stack: Stack, subscription: Subscription) -> bool:
    devices = httpx.get(f"{stack.base}/api/v1/devices", headers=AUTH, timeout=10).json()
    return any(
        d["channel"] == "web_push" and subscription.endpoint.endswith(d["token_suffix"])
        for d in devices["devices"]
    )


def test_a_ring_reaches_the_browser_through_web_push(
    subscribed: tuple[BrowserContext, Page, Subscription], stack: Stack, push_service: FakeWebPush
) -> None:
    _context, page, subscription = subscribed
    ring(stack)
    payloads = wait_for(
        "the ring at the push service", lambda: push_service.received(subscription.id), 30
    )
    alert: dict[str, Any] = payloads[0]
    assert (alert["type"], alert["kind"], alert["camera"]) == ("alert", "ring", "front")
    assert alert["url"] == f"/events/{alert['event_id']}"
    assert alert["tag"] == "ring-front"
    [push] = [p for p in push_service.pushes(subscription.id) if p.status == 201][:1]
    assert push.urgency == "high"
    assert push.ttl is not None
    assert 0 < push.ttl <= 60
    # The image is a signed URL: a notification fetches it without a session.
    image = httpx.get(alert["image"], timeout=20)
    assert image.status_code == 200
    assert image.content[:2] == b"\xff\xd8"
    # The settings page says notifications are on for this device.
    expect(page.get_by_role("button", name="Turn off")).to_be_visible()


def test_the_service_worker_shows_a_delivered_push(
    subscribed: tuple[BrowserContext, Page, Subscription], stack: Stack
) -> None:
    context, page, _subscription = subscribed
    page.wait_for_function("async () => !!(await navigator.serviceWorker.ready).active")
    cdp, registration = worker_registration(context, page)
    payload = {
        "type": "alert", "title": "Someone is at the door", "body": "Doorbell rang at front",
        "image": None, "event_id": "0b7c3a52-0f1e-4d8e-9a57-3f3b8f6c2d10", "camera": "front",
        "camera_name": "front", "kind": "ring", "at_ms": 1_796_000_000_000,
        "url": "/events/0b7c3a52-0f1e-4d8e-9a57-3f3b8f6c2d10", "tag": "ring-front",
    }  # fmt: skip
    notifications = """async () => (await (await navigator.serviceWorker.ready)
        .getNotifications()).map(n => ({title: n.title, body: n.body, tag: n.tag,
                                        url: n.data && n.data.url}))"""
    deliver = {"origin": stack.base, "registrationId": registration}
    cdp.send("ServiceWorker.deliverPushMessage", {**deliver, "data": json.dumps(payload)})
    # Headless Chromium's notification centre lets them go soon: read them as they show.
    first = shown_when(page, notifications, "Doorbell rang at front")
    assert first == [
        {
            "title": "Someone is at the door",
            "body": "Doorbell rang at front",
            "tag": "ring-front",
            "url": payload["url"],
        }
    ]
    # The camera rings again: the newer shows alone (the worker closes the older itself, as
    # iOS ignores `tag`).
    again = {**payload, "body": "Doorbell rang at front again"}
    cdp.send("ServiceWorker.deliverPushMessage", {**deliver, "data": json.dumps(again)})
    second = shown_when(page, notifications, "Doorbell rang at front again")
    assert [(n["tag"], n["body"]) for n in second] == [("ring-front", again["body"])]


def shown_when(page: Page, notifications: str, body: str) -> list[dict[str, Any]]:
    """The notifications shown at the moment one with `body` is among them."""
    found: list[dict[str, Any]] | None = page.evaluate(
        f"""async (body) => {{
            for (let i = 0; i < 400; i++) {{  // 10 s
                const shown = await ({notifications})();
                if (shown.some(n => n.body === body)) return shown;
                await new Promise(r => setTimeout(r, 25));
            }}
            return null;
        }}""",
        body,
    )
    if found is None:
        pytest.fail(f"no notification {body!r} within 10 s")
    return found


def worker_registration(context: BrowserContext, page: Page) -> tuple[CDPSession, str]:
    """A CDP session with its ServiceWorker domain on, and the app's registration's id."""
    found: list[str] = []
    cdp = context.new_cdp_session(page)

    def updated(event: dict[str, Any]) -> None:
        found.extend(
            r["registrationId"] for r in event.get("registrations", []) if not r.get("isDeleted")
        )

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    for _ in range(100):  # Playwright's sync API hands events over while it is called
        if found:
            return cdp, found[0]
        page.wait_for_timeout(100)
    pytest.fail("no service worker registration reported by CDP within 10 s")
