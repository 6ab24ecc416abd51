"""No signed URL, push token, Web Push endpoint or key in the server's logs, at any level."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import AccountOptions, create_app
from api.config import Settings, generate_config
from api.logs import SECRET_LOGGERS, Redact, quiet_secret_loggers, redact
from common.clock import wall_ms
from tests.api.conftest import BASE_URL, DEVICE_TOKEN, TOKEN
from tests.api.fakes import CHEAP_HASHER, FakeBuffer
from tests.conftest import eventually
from tests.fakewebpush import FakeWebPush

pytestmark = pytest.mark.anyio

FCM_TOKEN = "fcm-registration-token-of-the-phone-0123456789"


@pytest.fixture
def server_logging() -> Iterator[None]:
    """The loggers as `doorbell --log-level DEBUG` sets them (restored after)."""
    levels = {name: logging.getLogger(name).level for name in SECRET_LOGGERS}
    try:
        quiet_secret_loggers()
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("server_logging")
async def test_a_ring_pushed_to_a_phone_and_a_browser_logs_no_secret(
    tier_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = wall_ms()
    # The real notifiers: FCM without credentials (pushes only logged), Web Push to a fake
    # push service on loopback.
    app = create_app(
        tier_settings,
        buffers={"front": FakeBuffer(first_ms=now - 60_000, newest_ms=now)},
        accounts=AccountOptions(hasher=CHEAP_HASHER),
    )
    with FakeWebPush() as service:
        browser = service.subscribe()
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE_URL, headers=auth
            ) as client:
                phone = {"token": FCM_TOKEN, "platform": "android", "name": "Pixel"}
                assert (await client.post("/api/v1/devices", json=phone)).status_code == 201
                web = {"platform": "web", "name": "Firefox", "web_push": browser.as_json()}
                assert (await client.post("/api/v1/devices", json=web)).status_code == 201
                ring = {"id": str(uuid.uuid4()), "camera": "front", "kind": "ring", "at_ms": now}
                posted = await client.post(
                    "/api/v1/agent/events",
                    json=ring,
                    headers={"Authorization": f"Bearer {DEVICE_TOKEN}"},
                )
                assert posted.status_code == 201
                pushed = await eventually("the ring at the browser", lambda: service.received(
                    browser.id))  # fmt: skip
                await eventually("the phone's push logged", lambda: "push not sent" in caplog.text)
    assert "sig=" in json.dumps(pushed), "the push carries a signed URL: the test must see one"
    assert logging.getLogger("api").isEnabledFor(logging.DEBUG)
    text = caplog.text
    secrets = {
        "the FCM token": FCM_TOKEN,
        "the endpoint": browser.endpoint,
        "the endpoint's path": urlsplit(browser.endpoint).path,
        "the browser's key": browser.p256dh,
        "the browser's auth secret": browser.auth,
        "a signed URL": "sig=",
        "the API token": TOKEN,
        "the device token": DEVICE_TOKEN,
    }
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == [], f"in the log: {leaked}"


def test_what_still_looks_like_a_secret_is_blanked() -> None:
    line = "GET /api/v1/events/x/snapshot?exp=1&sig=abc123 with Authorization: Bearer tok.en-1"
    assert redact(line) == (
        "GET /api/v1/events/x/snapshot?exp=1&sig=<redacted> with Authorization: Bearer <redacted>"
    )
    assert redact("rtmp://relay/live/front?key=s3cret") == "rtmp://relay/live/front?key=<redacted>"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "link %s", ("/a?sig=zz",), None)
    assert Redact().filter(record)
    assert record.getMessage() == "link /a?sig=<redacted>"


def test_the_command_line_at_debug_writes_no_secret(tmp_path: Path) -> None:
    """`doorbell --log-level DEBUG user add`: its database work is logged at DEBUG by aiosqlite
    (with each statement's parameters) unless the server's logging holds it back."""
    config = tmp_path / "doorbell.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n' + generate_config([("front", "Front")]))
    password = "a password nobody may read in a log"
    done = subprocess.run(
        [sys.executable, "-m", "api", "--log-level", "DEBUG", "user", "add", "ana",
         "--password-stdin", "--config", str(config)],
        input=password + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert " DEBUG " in done.stderr  # the level was in effect
    for secret in (password, "$argon2id$"):
        assert secret not in done.stderr
