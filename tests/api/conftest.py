"""The in-process tier: `create_app(settings)` with no relay, a fake buffer and a recording
push service, driven through httpx's ASGI transport (no sockets, no child processes).

Each test gets its own app and database; the database is copied from one migrated once per
session (with two users, `USER` and `OTHER_USER`), so an app starts in milliseconds. The
accounts run on a fake clock (`InProcess.clock`) with cheap argon2 parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from api.accounts.passwords import Passwords
from api.accounts.users import Users
from api.app import AccountOptions, create_app
from api.config import Settings
from api.store import Database, sqlite_url
from api.store.database import BUSY_TIMEOUT_MS
from common.clock import wall_ms
from tests.api.fakes import CHEAP_HASHER, FakeBuffer, FakeClock, RecordingNotifier
from tests.pg import PostgresCluster, throwaway_postgres

TOKEN = "in-process-api-token-0123456789"
DEVICE_TOKEN = "front-device-token-0123456789"
RELAY_SECRET = "in-process-relay-secret-0123456789"
STREAM_KEY = "front-stream-key-0123456789"
BUFFER_S = 60
BASE_URL = "http://doorbell.test"
USER, PASSWORD = "ana", "correct horse battery"
OTHER_USER, OTHER_PASSWORD = "bo", "staple battery horse"


@dataclass
class InProcess:
    """One app under test, with what the test steers (the buffer) and reads (pushes)."""

    app: ASGIApp  # with the lifespan's state
    client: httpx.AsyncClient  # sends the API token
    anonymous: httpx.AsyncClient  # sends nothing
    settings: Settings
    buffer: FakeBuffer
    notifier: RecordingNotifier
    clock: FakeClock  # the accounts' clock

    def browser(
        self, base_url: str = BASE_URL, address: str = "127.0.0.1", user_agent: str = "Firefox"
    ) -> httpx.AsyncClient:
        """A client that sends no token and keeps cookies, as a browser does, from
        `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 50_000))
        headers = {"User-Agent": user_agent}
        return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)

    async def sign_in(
        self, browser: httpx.AsyncClient, username: str = USER, password: str = PASSWORD
    ) -> dict[str, Any]:
        """Sign `browser` in; the session's body (with its csrf_token)."""
        response = await browser.post(
            "/api/v1/session", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, headers: dict[str, str] | None = None
    ) -> AsyncIterator[AsyncIterator[str]]:
        """GET `path` with the API token (or `headers`) and read the body line by line as it
        is sent (httpx's ASGI transport returns a response only once the app has finished)."""
        sent = headers if headers is not None else {"Authorization": f"Bearer {TOKEN}"}
        chunks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        disconnected = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            await chunks.put(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
            "client": ("127.0.0.1", 1), "server": ("doorbell.test", 80),
        }  # fmt: skip

        async def lines() -> AsyncIterator[str]:
            start = await chunks.get()
            assert start["type"] == "http.response.start", start
            assert start["status"] == 200, start
            pending = ""
            while True:
                message = await chunks.get()
                pending += message.get("body", b"").decode()
                *complete, pending = pending.split("\n")
                for line in complete:
                    yield line
                if not message.get("more_body", False):
                    return

        task: asyncio.Task[None] = asyncio.create_task(self.app(scope, receive, send))  # type: ignore[arg-type]
        try:
            yield lines()
        finally:
            disconnected.set()
            async with asyncio.timeout(10):
                await task

    @contextlib.asynccontextmanager
    async def held_open(
        self, path: str, count: int, headers: dict[str, str] | None = None
    ) -> AsyncIterator[list[int]]:
        """`count` GETs of `path` sent at once, kept open: yields each one's status once all
        have answered (a streamed 200 stays open; a refusal has ended); on leaving, every
        client goes away and every request is awaited."""
        sent = headers if headers is not None else {"Authorization": f"Bearer {TOKEN}"}
        gone = asyncio.Event()
        started: list[asyncio.Future[int]] = []

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        def request(answered: asyncio.Future[int]) -> Any:
            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start" and not answered.done():
                    answered.set_result(message["status"])

            target, _, query = path.partition("?")
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": target, "raw_path": target.encode(),
                "query_string": query.encode(), "root_path": "",
                "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
                "client": ("127.0.0.1", 1), "server": ("doorbell.test", 80),
            }  # fmt: skip
            return self.app(scope, receive, send)  # type: ignore[arg-type]

        loop = asyncio.get_running_loop()
        tasks = []
        for _ in range(count):
            started.append(loop.create_future())
            tasks.append(asyncio.create_task(request(started[-1])))
        try:
            async with asyncio.timeout(20):
                yield list(await asyncio.gather(*started))
        finally:
            gone.set()
            async with asyncio.timeout(20):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def agent_post(self, payload: object, token: str = DEVICE_TOKEN) -> httpx.Response:
        """POST an event as the front camera's doorbell would."""
        headers = {"Authorization": f"Bearer {token}"}
        return await self.anonymous.post("/api/v1/agent/events", json=payload, headers=headers)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster, started once, if a test asks for it."""
    with throwaway_postgres() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "var" / "doorbell.db")  # "var" does not exist yet
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at the newest schema, made once (in a loop of its own) and copied for each
    test."""
    path = tmp_path_factory.mktemp("migrated") / "doorbell.db"

    async def make() -> None:
        db = await Database.open(sqlite_url(path))
        try:
            users = Users(db.users, db.sessions, Passwords(CHEAP_HASHER))
            await users.add(USER, PASSWORD)
            await users.add(OTHER_USER, OTHER_PASSWORD)
        finally:
            await db.aclose()

    asyncio.run(make())
    return path


def fake_build(web_dir: Path) -> Path:
    """A stand-in for Vite's output in `web/dist`: the files the server treats apart."""
    (web_dir / "assets").mkdir(parents=True)
    (web_dir / "swagger").mkdir()
    (web_dir / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/app-3f9a1c.js"></script>',
        encoding="utf-8",
    )
    script = b"export const answer = 42;\n" * 100
    (web_dir / "assets" / "app-3f9a1c.js").write_bytes(script)
    (web_dir / "assets" / "app-3f9a1c.js.gz").write_bytes(gzip.compress(script))
    (web_dir / "sw.js").write_text("self.addEventListener('push', () => {});\n", encoding="utf-8")
    (web_dir / "manifest.webmanifest").write_text('{"name": "Doorbell"}', encoding="utf-8")
    (web_dir / "swagger" / "swagger-ui.css").write_text("body {}\n", encoding="utf-8")
    return web_dir


def settings_for(root: Path, database: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "profile": "dev",
        "api_tokens": [TOKEN],
        "relay_secret": RELAY_SECRET,
        "cameras": [
            {
                "id": "front",
                "name": "Front door",
                "stream_key": STREAM_KEY,
                "device_token": DEVICE_TOKEN,
            }
        ],
        "data_dir": root / "data",
        "buffer_dir": root / "buffer",
        "database_url": sqlite_url(database),
        "buffer_seconds": BUFFER_S,
        "relay": {"enabled": False},
        # No media worker per app: the WebRTC tests turn it on (tests/api/video/test_webrtc.py).
        "webrtc": {"enabled": False},
        "web_dir": fake_build(root / "web"),
        "exit_on_fatal": False,
        "public_url": "https://door.example",
        "events": {"post_roll_s": 1, "pre_roll_s": 1, "media_wait_s": 2},
        # The Web Push tests' push service runs on this machine.
        "push": {"web_push_local": True},
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def tier_settings(tmp_path: Path, migrated_db: Path) -> Settings:
    database = tmp_path / "doorbell.db"
    shutil.copyfile(migrated_db, database)
    return settings_for(tmp_path, database)


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[InProcess]:
    """An app over `settings` (see `settings_for`), started and stopped around the block."""
    now = wall_ms()
    buffer = FakeBuffer(first_ms=now - BUFFER_S * 1000, newest_ms=now)
    notifier = RecordingNotifier()
    clock = FakeClock(now)
    app = create_app(
        settings,
        buffers={"front": buffer},
        notifier=notifier,
        accounts=AccountOptions(clock=clock, hasher=CHEAP_HASHER),
    )
    # A stop with many writes in flight (a burst of rings' media, cancelled at once) can wait
    # out SQLite's busy timeout on one of them: asgi-lifespan's 5-s default would call that
    # a failure and cancel the shutdown itself halfway.
    shutdown_s = BUSY_TIMEOUT_MS / 1000 + 10
    async with LifespanManager(app, shutdown_timeout=shutdown_s) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=auth) as client,
            httpx.AsyncClient(transport=transport, base_url=BASE_URL) as anonymous,
        ):
            yield InProcess(manager.app, client, anonymous, settings, buffer, notifier, clock)


@pytest.fixture
async def server(tier_settings: Settings) -> AsyncIterator[InProcess]:
    async with serve(tier_settings) as started:
        yield started
