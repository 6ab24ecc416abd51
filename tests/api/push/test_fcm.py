"""The push subsystem driving the real firebase-admin SDK against the fake FCM server:
message shape on the wire, credentials, outcomes, retries, expiry and the dispatcher's
bounds and teardown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import firebase_admin
import pytest
from firebase_admin import messaging

from api.events.model import PushOutcome
from api.push import FcmNotifier, LoggingNotifier, PushDispatcher, build_fcm_notifier
from tests.api.push.support import (
    IMAGE,
    LINK,
    RecordingLog,
    Registry,
    device,
    fast,
    fcm,
    finished,
    gap_s,
    job,
    running,
)
from tests.conftest import eventually
from tests.fakefcm import PROJECT, STATIC_ACCESS_TOKEN, FakeFcm, Reply, running_fake


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFcm]:
    with running_fake() as server:
        # Read when an app's messaging service is made: each test makes a fresh app.
        monkeypatch.setattr(messaging._MessagingService, "FCM_URL", server.fcm_url)
        yield server


@pytest.mark.anyio
async def test_ring_alert_reaches_fcm_in_v1_form(fake: FakeFcm) -> None:
    log, latencies, outcomes = RecordingLog(), list[float](), list[PushOutcome]()
    async with fcm() as notifier:
        dispatcher = PushDispatcher(notifier, log, Registry(), on_attempt=outcomes.append,
                                    on_first_send=latencies.append)  # fmt: skip
        async with running(dispatcher):
            assert dispatcher.submit(job("tok-a"))
            await finished(dispatcher)
    [request] = fake.sends()
    assert request.path == f"/v1/projects/{PROJECT}/messages:send"
    assert request.headers["authorization"] == f"Bearer {STATIC_ACCESS_TOKEN}"
    sent = request.body["message"]
    assert sent["token"] == "tok-a"
    assert sent["notification"] == {
        "title": "Someone is at the door", "body": "Doorbell rang at Front door", "image": IMAGE,
    }  # fmt: skip
    assert sent["data"] == {"type": "alert", "event_id": "e1", "camera": "front",
                            "camera_name": "Front door", "kind": "ring",
                            "at_ms": "1720000000000", "link": LINK}  # fmt: skip
    assert sent["android"] == {"priority": "high", "ttl": "60s", "collapse_key": "ring-front",
                               "notification": {"image": IMAGE, "tag": "ring-front"}}  # fmt: skip
    headers = sent["apns"]["headers"]
    assert headers["apns-priority"] == "10"
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-collapse-id"] == "ring-front"
    assert abs(int(headers["apns-expiration"]) - (time.time() + 60)) < 5
    assert sent["apns"]["payload"]["aps"]["mutable-content"] == 1
    assert sent["apns"]["fcm_options"] == {"image": IMAGE}
    assert sent["webpush"]["headers"] == {"TTL": "60", "Urgency": "high", "Topic": "ring-front"}
    assert log.of("tok-a") == [(1, "sent")]
    assert log.entries[0].message_id == f"projects/{PROJECT}/messages/1"
    assert outcomes == ["sent"]
    assert len(latencies) == 1
    assert 0 <= latencies[0] < 5


@pytest.mark.anyio
async def test_service_account_file_end_to_end(fake: FakeFcm, tmp_path: Path) -> None:
    notifier = build_fcm_notifier(fake.service_account(tmp_path / "sa.json"), None)
    try:
        assert isinstance(notifier, FcmNotifier)
        [result] = await notifier.send(job("tok-a").message, [device("tok-a")])
    finally:
        await notifier.aclose()
    assert result.outcome == "sent"
    assert fake.issued_tokens == ["fake-access-1"]  # the assertion was signed by our key
    [token_request, send] = fake.received()
    assert token_request.path == "/token"
    assert send.headers["authorization"] == "Bearer fake-access-1"
    assert send.path == f"/v1/projects/{PROJECT}/messages:send"  # project from the file


@pytest.mark.anyio
async def test_refused_credentials_become_per_token_errors(fake: FakeFcm, tmp_path: Path) -> None:
    fake.fail_token_requests(Reply(400, message="invalid_grant"))
    notifier = build_fcm_notifier(fake.service_account(tmp_path / "sa.json"), None)
    try:
        results = await notifier.send(job().message, [device("tok-a"), device("tok-b")])
    finally:
        await notifier.aclose()
    assert [(r.device_id, r.outcome) for r in results] == [
        ("dev-tok-a", "error"), ("dev-tok-b", "error"),
    ]  # fmt: skip
    assert results[0].error is not None
    assert "RefreshError" in results[0].error
    assert fake.sends() == []


@pytest.mark.anyio
async def test_unreachable_token_endpoint_is_unavailable(fake: FakeFcm, tmp_path: Path) -> None:
    notifier = build_fcm_notifier(fake.service_account(tmp_path / "sa.json"), None)
    fake.down()
    try:
        results = await notifier.send(job().message, [device("tok-a")])
    finally:
        await notifier.aclose()
    assert [r.outcome for r in results] == ["unavailable"]


@pytest.mark.anyio
async def test_sdk_makes_one_request_per_attempt(fake: FakeFcm) -> None:
    """Pins the private hook that turns off firebase-admin's own 500/503 retries."""
    fake.respond("tok-a", [503] * 6)
    async with fcm() as notifier:
        [result] = await notifier.send(job().message, [device("tok-a")])
        assert notifier.sdk_retries_disabled
    assert result.outcome == "unavailable"
    assert len(fake.sends("tok-a")) == 1


@pytest.mark.anyio
async def test_unregistered_token_is_forgotten_and_not_retried(fake: FakeFcm) -> None:
    fake.respond("tok-dead", [404])
    log, registry = RecordingLog(), Registry()
    async with fcm() as notifier, running(fast(notifier, log, registry)) as d:
        d.submit(job("tok-dead"))
        await finished(d)
    assert log.of("tok-dead") == [(1, "unregistered")]
    assert registry.forgotten == ["tok-dead"]
    assert len(fake.sends("tok-dead")) == 1
    assert d.stats()["forgotten"] == 1


@pytest.mark.anyio
async def test_unavailable_then_ok_is_two_logged_attempts(fake: FakeFcm) -> None:
    fake.respond("tok-a", [503, 200])
    log = RecordingLog()
    async with fcm() as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job("tok-a"))
        await finished(d)
    assert log.of("tok-a") == [(1, "unavailable"), (2, "sent")]
    first, second = fake.sends("tok-a")
    assert gap_s(first, second) >= 0.025  # the dispatcher's backoff, not an SDK retry
    assert second.body["message"]["android"]["ttl"] in ("60s", "59s")  # what is left of it


@pytest.mark.anyio
async def test_fcm_down_then_back_delivers(fake: FakeFcm) -> None:
    fake.down()
    log = RecordingLog()
    async with fcm() as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job("tok-a"))
        await eventually("two refused attempts", lambda: len(log.of("tok-a")) >= 2)
        fake.up()
        await finished(d)
    attempts = log.of("tok-a")
    assert attempts[-1][1] == "sent"
    assert {outcome for _, outcome in attempts[:-1]} == {"unavailable"}
    assert [n for n, _ in attempts] == list(range(1, len(attempts) + 1))
    assert len(fake.sends("tok-a")) == 1


@pytest.mark.anyio
async def test_ttl_passing_while_down_logs_expired_once(fake: FakeFcm) -> None:
    fake.down()
    log = RecordingLog()
    async with fcm() as notifier:
        dispatcher = fast(notifier, log, Registry(), max_attempts=100)
        async with running(dispatcher):
            dispatcher.submit(job("tok-a", ttl_s=1))
            await finished(dispatcher)
    outcomes = [outcome for _, outcome in log.of("tok-a")]
    assert outcomes[-1] == "expired"
    assert outcomes.count("expired") == 1
    assert set(outcomes[:-1]) == {"unavailable"}
    assert len(outcomes) >= 3
    assert dispatcher.stats()["expired"] == 1


@pytest.mark.anyio
async def test_a_job_older_than_its_ttl_is_never_sent(fake: FakeFcm) -> None:
    log, latencies = RecordingLog(), list[float]()
    async with fcm() as notifier:
        dispatcher = PushDispatcher(notifier, log, Registry(), on_first_send=latencies.append)
        async with running(dispatcher):
            dispatcher.submit(job("tok-a", ttl_s=60, age_s=61))
            await finished(dispatcher)
    assert log.of("tok-a") == [(1, "expired")]
    assert fake.sends() == []
    assert latencies == []


@pytest.mark.anyio
async def test_queue_full_refuses_without_waiting() -> None:
    dispatcher = PushDispatcher(LoggingNotifier(), RecordingLog(), Registry(), queue_size=2)
    assert dispatcher.submit(job("a"))
    assert dispatcher.submit(job("b"))
    assert not dispatcher.submit(job("c"))
    assert dispatcher.stats()["queued"] == 2
    assert dispatcher.stats()["dropped"] == 1


@pytest.mark.anyio
async def test_multicast_with_one_unregistered_token(fake: FakeFcm) -> None:
    fake.respond("tok-b", [404])
    log, registry = RecordingLog(), Registry()
    async with fcm() as notifier, running(fast(notifier, log, registry)) as d:
        d.submit(job("tok-a", "tok-b", "tok-c"))
        await finished(d)
    assert log.of("tok-a") == log.of("tok-c") == [(1, "sent")]
    assert log.of("tok-b") == [(1, "unregistered")]
    assert registry.forgotten == ["tok-b"]
    assert len(fake.sends()) == 3


@pytest.mark.anyio
async def test_retry_after_is_honoured_beyond_the_backoff_cap(fake: FakeFcm) -> None:
    fake.respond("tok-a", [Reply(429, retry_after="1")])
    log = RecordingLog()
    async with fcm() as notifier, running(fast(notifier, log, Registry())) as d:
        d.submit(job("tok-a"))
        await finished(d)
    assert log.of("tok-a") == [(1, "quota"), (2, "sent")]
    first, second = fake.sends("tok-a")
    assert gap_s(first, second) >= 0.95


@pytest.mark.anyio
async def test_only_fcm_verdicts_on_the_token_forget_it(fake: FakeFcm) -> None:
    fake.respond("tok-bad", [400])  # "The registration token is not a valid FCM ..."
    fake.respond("tok-payload", [Reply(400, message="Message is too big")])
    fake.respond("tok-404", [Reply(404, error_code=None)])  # no UNREGISTERED: about the URL
    fake.respond("tok-other", [403])  # SENDER_ID_MISMATCH
    log, registry = RecordingLog(), Registry()
    async with fcm() as notifier, running(fast(notifier, log, registry)) as d:
        d.submit(job("tok-bad", "tok-payload", "tok-404", "tok-other"))
        await finished(d)
    assert log.of("tok-bad") == [(1, "invalid")]
    assert log.of("tok-payload") == [(1, "error")]
    assert log.of("tok-404") == [(1, "error")]
    assert log.of("tok-other") == [(1, "invalid")]
    assert sorted(registry.forgotten) == ["tok-bad", "tok-other"]
    assert len(fake.sends()) == 4  # errors are not retried


@pytest.mark.anyio
async def test_large_multicasts_are_chunked_in_order(fake: FakeFcm) -> None:
    fake.respond("t3", [404])
    tokens = [f"t{i}" for i in range(5)]
    async with fcm(max_tokens_per_call=2) as notifier:
        results = await notifier.send(job().message, [device(t) for t in tokens])
    assert [(r.device_id, r.outcome) for r in results] == [
        ("dev-t0", "sent"), ("dev-t1", "sent"), ("dev-t2", "sent"), ("dev-t3", "unregistered"),
        ("dev-t4", "sent"),
    ]  # fmt: skip


@pytest.mark.anyio
async def test_a_new_job_does_not_wait_behind_a_retry(fake: FakeFcm) -> None:
    fake.respond("tok-a", [503, 200])
    log = RecordingLog()
    async with fcm() as notifier:
        dispatcher = PushDispatcher(notifier, log, Registry(), concurrency=1,
                                    backoff_min_s=1.0, backoff_max_s=1.0)  # fmt: skip
        async with running(dispatcher):
            dispatcher.submit(job("tok-a", event_id="e1"))
            await eventually("a retry scheduled", lambda: dispatcher.stats()["retrying"] == 1)
            dispatcher.submit(job("tok-b", event_id="e2"))
            await eventually("the second job sent", lambda: log.of("tok-b") == [(1, "sent")])
            assert dispatcher.stats()["retrying"] == 1
            await finished(dispatcher, 2)
    assert log.of("tok-a") == [(1, "unavailable"), (2, "sent")]
    assert [r.token for r in fake.sends()] == ["tok-a", "tok-b", "tok-a"]


@pytest.mark.anyio
async def test_cancelling_run_reaps_every_job(fake: FakeFcm) -> None:
    fake.respond("tok-a", [503] * 10)
    before = asyncio.all_tasks()
    async with fcm() as notifier:
        dispatcher = PushDispatcher(notifier, RecordingLog(), Registry(),
                                    backoff_min_s=30, backoff_max_s=30)  # fmt: skip
        async with running(dispatcher):
            dispatcher.submit(job("tok-a"))
            await eventually("a retry scheduled", lambda: dispatcher.stats()["retrying"] == 1)
            assert any(t.get_name() == "push-e1" for t in asyncio.all_tasks())
    assert asyncio.all_tasks() <= before
    assert dispatcher.stats()["retrying"] == 0


@pytest.mark.anyio
async def test_store_failures_are_logged_and_delivery_goes_on(
    fake: FakeFcm, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond("tok-dead", [404])
    fake.respond("tok-a", [503, 200])
    log, registry = RecordingLog(fail=True), Registry(fail=True)
    async with fcm() as notifier, running(fast(notifier, log, registry)) as d:
        d.submit(job("tok-dead", "tok-a"))
        await finished(d)
        log.fail = False
        d.submit(job("tok-b", event_id="e2"))
        await finished(d, 2)
    assert len(fake.sends("tok-a")) == 2  # retried although its attempt could not be logged
    assert log.of("tok-b") == [(1, "sent")]
    assert "could not log push attempt" in caplog.text
    assert "could not forget the token" in caplog.text
    assert d.stats()["failed"] == 0


@pytest.mark.anyio
async def test_without_credentials_pushes_are_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    notifier = build_fcm_notifier(None, None)
    assert isinstance(notifier, LoggingNotifier)
    assert "push disabled: no fcm credentials_file set" in caplog.text
    log = RecordingLog()
    async with running(PushDispatcher(notifier, log, Registry())) as d:
        d.submit(job("tok-a", "tok-b"))
        await finished(d)
    assert log.of("tok-a") == log.of("tok-b") == [(1, "logged")]
    assert "Someone is at the door" in caplog.text


@pytest.mark.parametrize(
    ("content", "fault"),
    [(None, "cannot read"), ("{not json", "not JSON"),
     ('{"type": "authorized_user"}', "not a service-account key"),
     ('{"type": "service_account", "project_id": "p"}', "lacks private_key"),
     ('{"type": "service_account", "project_id": "p", "private_key": "nope", '
      '"client_email": "a@b", "token_uri": "http://x"}', "not a usable service account")],
)  # fmt: skip
def test_unusable_credentials_files_are_refused(
    tmp_path: Path, content: str | None, fault: str
) -> None:
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=fault) as info:
        build_fcm_notifier(path, None)
    assert str(path) in str(info.value)


@pytest.mark.anyio
async def test_aclose_deletes_the_app(fake: FakeFcm) -> None:
    async with fcm() as notifier:
        await notifier.send(job().message, [device("tok-a")])
        name = notifier.app_name
        assert firebase_admin.get_app(name).name == name
    with pytest.raises(ValueError, match=r"does not exist|not initialized"):
        firebase_admin.get_app(name)
    await notifier.aclose()  # idempotent
