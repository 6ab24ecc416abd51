"""The Web Push channel against the fake push service (a real HTTP server that decrypts what
it gets and checks the VAPID token): the payload end to end, headers, outcomes, retries,
expiry, dead subscriptions, and a job shared with FCM through the routing notifier."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from firebase_admin import messaging

from api.events.model import DeviceRecord, WebPushKeys
from api.push import PushDispatcher, RoutingNotifier, VapidSigner, WebPushNotifier
from api.push.messages import clip_ready_message
from api.push.webpush import outcome_of_status
from tests.api.push.support import (
    IMAGE,
    RecordingLog,
    Registry,
    device,
    fast,
    fcm,
    finished,
    gap_s,
    job,
    ring,
    running,
)
from tests.conftest import eventually
from tests.fakefcm import FakeFcm, running_fake
from tests.fakewebpush import FakeWebPush, Reply, Subscription

pytestmark = pytest.mark.anyio

SUBJECT = "mailto:ops@example.net"


@pytest.fixture(scope="module")
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def signer(vapid_key: ec.EllipticCurvePrivateKey) -> VapidSigner:
    return VapidSigner(vapid_key, SUBJECT)


@pytest.fixture
def service() -> Iterator[FakeWebPush]:
    with FakeWebPush() as fake:
        yield fake


@asynccontextmanager
async def web(signer: VapidSigner, timeout_s: float = 10.0) -> AsyncIterator[WebPushNotifier]:
    notifier = WebPushNotifier(signer, timeout_s=timeout_s)
    try:
        yield notifier
    finally:
        await notifier.aclose()


def browser(service: FakeWebPush, signer: VapidSigner) -> tuple[Subscription, DeviceRecord]:
    """A browser subscribed with the server's key, and its device as registration stores it."""
    subscription = service.subscribe(application_server_key=signer.public_key)
    keys = WebPushKeys(subscription.p256dh, subscription.auth)
    return subscription, device(subscription.endpoint, keys)


async def test_a_ring_reaches_the_browser_decrypted_with_its_headers(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    log = RecordingLog()
    async with web(signer) as notifier, running(PushDispatcher(notifier, log, Registry())) as d:
        assert d.submit(job(target))
        await finished(d)
    assert service.received(subscription.id) == [{
        "type": "alert", "title": "Someone is at the door", "body": "Doorbell rang at Front door",
        "image": IMAGE, "event_id": "e1", "camera": "front", "camera_name": "Front door",
        "kind": "ring", "at_ms": ring().at_ms, "url": "/events/e1", "tag": "ring-front",
    }]  # fmt: skip
    [push] = service.pushes(subscription.id)
    assert (push.urgency, push.topic) == ("high", "ring-front")
    assert push.ttl in (59, 60)  # what is left of the ring's 60 s
    assert push.claims is not None
    assert (push.claims["aud"], push.claims["sub"]) == (service.origin, SUBJECT)
    assert push.headers["content-type"] == "application/octet-stream"
    assert log.of(subscription.endpoint) == [(1, "sent")]
    assert log.entries[0].message_id == f"{service.origin}/message/1"


async def test_a_clip_ready_push_is_normal_urgency_without_a_topic(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    message = clip_ready_message(ring(), "https://door.example/clip.mp4", 3600)
    async with web(signer) as notifier:
        [result] = await notifier.send(message, [target])
    assert result.outcome == "sent"
    [push] = service.pushes(subscription.id)
    assert (push.urgency, push.topic, push.ttl) == ("normal", None, 3600)
    assert service.received(subscription.id)[0]["type"] == "clip_ready"


@pytest.mark.parametrize("status", [404, 410])
async def test_a_dead_subscription_deletes_the_device(
    service: FakeWebPush, signer: VapidSigner, status: int
) -> None:
    subscription, target = browser(service, signer)
    service.respond(subscription.id, [status])
    log, registry = RecordingLog(), Registry()
    async with web(signer) as notifier, running(fast(notifier, log, registry)) as d:
        d.submit(job(target))
        await finished(d)
    assert log.of(subscription.endpoint) == [(1, "unregistered")]
    assert registry.forgotten == [subscription.endpoint]
    assert len(service.pushes(subscription.id)) == 1
    assert d.stats()["forgotten"] == 1


async def test_unavailable_then_accepted_is_two_logged_attempts(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    service.respond(subscription.id, [503, 201])
    log = RecordingLog()
    async with web(signer) as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job(target))
        await finished(d)
    assert log.of(subscription.endpoint) == [(1, "unavailable"), (2, "sent")]
    first, second = service.pushes(subscription.id)
    assert gap_s(first, second) >= 0.025  # the dispatcher's backoff
    assert first.ttl is not None
    assert second.ttl is not None
    assert second.ttl <= first.ttl
    assert len(service.received(subscription.id)) == 1


@pytest.mark.parametrize(("status", "outcome"), [(500, "internal"), (502, "unavailable")])
async def test_server_errors_are_retried(
    service: FakeWebPush, signer: VapidSigner, status: int, outcome: str
) -> None:
    subscription, target = browser(service, signer)
    service.respond(subscription.id, [status])
    log = RecordingLog()
    async with web(signer) as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job(target))
        await finished(d)
    assert log.of(subscription.endpoint) == [(1, outcome), (2, "sent")]


async def test_retry_after_is_honoured(service: FakeWebPush, signer: VapidSigner) -> None:
    subscription, target = browser(service, signer)
    service.respond(subscription.id, [Reply(429, retry_after="1")])
    log = RecordingLog()
    async with web(signer) as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job(target))
        await finished(d)
    assert log.of(subscription.endpoint) == [(1, "quota"), (2, "sent")]
    first, second = service.pushes(subscription.id)
    assert gap_s(first, second) >= 0.95  # beyond the backoff's 0.2-s cap


@pytest.mark.parametrize("status", [400, 403, 413])
async def test_refusals_of_the_request_are_errors_and_keep_the_device(
    service: FakeWebPush, signer: VapidSigner, status: int
) -> None:
    subscription, target = browser(service, signer)
    service.respond(subscription.id, [status])
    log, registry = RecordingLog(), Registry()
    async with web(signer) as notifier, running(fast(notifier, log, registry)) as d:
        d.submit(job(target))
        await finished(d)
    assert log.of(subscription.endpoint) == [(1, "error")]
    assert log.entries[0].error == f"HTTP {status}"
    assert registry.forgotten == []
    assert len(service.pushes(subscription.id)) == 1


async def test_a_subscription_made_with_another_key_is_refused_by_the_service(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    other = VapidSigner(ec.generate_private_key(ec.SECP256R1()), SUBJECT)
    subscription = service.subscribe(application_server_key=other.public_key)
    target = device(subscription.endpoint, WebPushKeys(subscription.p256dh, subscription.auth))
    async with web(signer) as notifier:
        [result] = await notifier.send(job().message, [target])
    assert result.outcome == "error"
    [push] = service.pushes(subscription.id)
    assert push.status == 403
    assert push.problem is not None
    assert "not the one the subscription was made with" in push.problem


async def test_the_ttl_running_out_while_the_service_fails_logs_expired_once(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    service.respond(subscription.id, [503] * 100)
    log = RecordingLog()
    async with web(signer) as notifier:
        dispatcher = fast(notifier, log, Registry(), max_attempts=100)
        async with running(dispatcher):
            dispatcher.submit(job(target, ttl_s=1))
            await finished(dispatcher)
    outcomes = [outcome for _, outcome in log.of(subscription.endpoint)]
    assert outcomes[-1] == "expired"
    assert outcomes.count("expired") == 1
    assert set(outcomes[:-1]) == {"unavailable"}
    assert len(outcomes) >= 3
    assert service.received(subscription.id) == []


async def test_a_job_older_than_its_ttl_is_never_sent(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    log = RecordingLog()
    async with web(signer) as notifier, running(PushDispatcher(notifier, log, Registry())) as d:
        d.submit(job(target, ttl_s=60, age_s=61))
        await finished(d)
    assert log.of(subscription.endpoint) == [(1, "expired")]
    assert service.pushes() == []


async def test_a_service_that_is_down_then_up_gets_it(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    service.stop()
    log = RecordingLog()
    async with web(signer) as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job(target))
        await finished_attempts(log, subscription.endpoint, 2)
        service.start()  # on the same port
        await finished(d)
    attempts = log.of(subscription.endpoint)
    assert attempts[-1][1] == "sent"
    assert {outcome for _, outcome in attempts[:-1]} == {"unavailable"}
    assert "ConnectError" in (log.entries[0].error or "")
    assert len(service.received(subscription.id)) == 1


async def finished_attempts(log: RecordingLog, token: str, count: int) -> None:
    await eventually(f"{count} attempts", lambda: len(log.of(token)) >= count)


async def test_a_service_that_never_answers_times_out_as_unavailable(signer: VapidSigner) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        target = device(f"http://127.0.0.1:{port}/push/x", WebPushKeys(*_keys()))
        async with web(signer, timeout_s=0.2) as notifier:
            [result] = await notifier.send(job().message, [target])
    assert result.outcome == "unavailable"
    assert "Timeout" in (result.error or "")


def _keys() -> tuple[str, str]:
    subscription = FakeWebPush().subscribe()  # keys only: the service need not run
    return subscription.p256dh, subscription.auth


async def test_keys_that_cannot_be_used_are_an_error_without_a_request(
    service: FakeWebPush, signer: VapidSigner
) -> None:
    subscription, target = browser(service, signer)
    broken = device(subscription.endpoint + "-b", WebPushKeys(p256dh="AAAA", auth="AAAA"))
    async with web(signer) as notifier:
        results = await notifier.send(job().message, [broken, target])
    assert [r.outcome for r in results] == ["error", "sent"]
    assert "cannot encrypt" in (results[0].error or "")
    assert len(service.pushes()) == 1


async def test_after_aclose_sends_are_errors(service: FakeWebPush, signer: VapidSigner) -> None:
    _, target = browser(service, signer)
    async with web(signer) as notifier:
        pass
    [result] = await notifier.send(job().message, [target])
    assert (result.outcome, result.error) == ("error", "notifier closed")
    assert service.pushes() == []


@pytest.fixture
def fake_fcm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFcm]:
    with running_fake() as server:
        monkeypatch.setattr(messaging._MessagingService, "FCM_URL", server.fcm_url)
        yield server


async def test_fcm_and_web_push_devices_in_one_job_both_get_theirs(
    service: FakeWebPush, signer: VapidSigner, fake_fcm: FakeFcm
) -> None:
    subscription, browser_device = browser(service, signer)
    dead, dead_device = browser(service, signer)
    service.respond(dead.id, [410])
    log, registry = RecordingLog(), Registry()
    async with fcm() as fcm_notifier, web(signer) as web_notifier:
        routing = RoutingNotifier({"fcm": fcm_notifier, "web_push": web_notifier})
        async with running(fast(routing, log, registry)) as d:
            d.submit(job("tok-a", browser_device, dead_device))
            await finished(d)
    assert log.of("tok-a") == [(1, "sent")]
    assert log.of(subscription.endpoint) == [(1, "sent")]
    assert log.of(dead.endpoint) == [(1, "unregistered")]
    assert registry.forgotten == [dead.endpoint]
    [fcm_send] = fake_fcm.sends()
    assert fcm_send.token == "tok-a"
    [payload] = service.received(subscription.id)
    assert payload["title"] == fcm_send.body["message"]["notification"]["title"]
    assert payload["event_id"] == fcm_send.body["message"]["data"]["event_id"]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(201, "sent"), (200, "sent"), (202, "sent"), (404, "unregistered"), (410, "unregistered"),
     (429, "quota"), (500, "internal"), (502, "unavailable"), (503, "unavailable"),
     (504, "unavailable"), (408, "unavailable"), (400, "error"), (401, "error"), (403, "error"),
     (413, "error"), (301, "error")],
)  # fmt: skip
def test_statuses_map_to_outcomes(status: int, outcome: str) -> None:
    assert outcome_of_status(status) == outcome


def test_the_fake_refuses_what_a_push_service_would(signer: VapidSigner) -> None:
    """The fake is strict: a push without TTL, unsigned, or for another audience fails."""
    with FakeWebPush() as fake:
        subscription = fake.subscribe()
        url = subscription.endpoint
        authorization = signer.authorization(url)
        base = {"Authorization": authorization, "Content-Encoding": "aes128gcm", "TTL": "5"}
        cases = {
            "no ttl": ({k: v for k, v in base.items() if k != "TTL"}, 400),
            "unsigned": ({**base, "Authorization": "WebPush abc"}, 401),
            "other audience": (
                {**base, "Authorization": signer.authorization("http://127.0.0.2:1/x")}, 401,
            ),
            "bad urgency": ({**base, "Urgency": "now"}, 400),
            "not encrypted": (base, 400),
        }  # fmt: skip
        for name, (headers, status) in cases.items():
            answer = httpx.post(url, content=b"x" * 200, headers=headers)
            assert answer.status_code == status, name
        assert httpx.post(f"{fake.origin}/push/nope", headers=base).status_code == 404
        assert fake.received(subscription.id) == []
        assert all(p.problem for p in fake.pushes(subscription.id))
