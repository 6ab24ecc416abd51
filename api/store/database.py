"""The store's database: URL handling, the engine and its SQLite pragmas, and migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from api.store.deliveries import DeliveryStore
from api.store.devices import DeviceStore
from api.store.errors import StoreError, describe, translated
from api.store.events import EventStore
from api.store.sessions import SessionStore
from api.store.tokens import TokenStore
from api.store.users import UserStore

MIGRATIONS = Path(__file__).parent / "migrations"
# A plain backend name gets the async driver this package ships with.
DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
DRIVERS["postgres"] = DRIVERS["postgresql"]
SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg")
BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK = 0x646F6F7262656C6C  # pg_advisory_xact_lock key: "doorbell" in ASCII
# Alembic keeps the running migration in module globals (alembic.context, alembic.op): two
# migrations interleaving on one event loop, even of different databases, corrupt each other.
_migrating: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def sqlite_url(path: Path) -> str:
    """The URL of the SQLite database in the file `path` (made absolute)."""
    return URL.create("sqlite+aiosqlite", database=str(path.absolute())).render_as_string()


class Database:
    """Owns the engine; `open()` runs the migrations to head before returning."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.events = EventStore(sessions)
        self.devices = DeviceStore(sessions)
        self.deliveries = DeliveryStore(sessions)
        self.users = UserStore(sessions)
        self.sessions = SessionStore(sessions)
        self.tokens = TokenStore(sessions)

    @classmethod
    async def open(cls, url: str) -> Database:
        """Migrate the database at `url` to head, then return it ready for use."""
        parsed = _parse(url)
        await _upgrade(parsed, action="cannot open database")
        engine = _engine(parsed)
        try:
            with translated(f"cannot open database {_safe(parsed)}"):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def url(self) -> str:
        """The URL with the password masked: fit for logs."""
        return _safe(self._engine.url)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations on the database at `url` up to `revision` (default: the newest;
    nothing when already there). Tests migrate to an older revision to upgrade its data."""
    await _upgrade(_parse(url), action="cannot upgrade database", revision=revision)


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The driver's message quotes the whole URL, password and all: do not pass it on.
        raise StoreError(
            "invalid database URL: expected sqlite+aiosqlite:///path/to/file.db or "
            "postgresql+asyncpg://user:password@host:port/database"
        ) from None
    parsed = parsed.set(drivername=DRIVERS.get(parsed.drivername, parsed.drivername))
    if parsed.drivername not in SUPPORTED:
        raise StoreError(
            f"unsupported database URL {_safe(parsed)}: the driver must be one of "
            f"{', '.join(SUPPORTED)}"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in {None, "", ":memory:"}:
        # Every pooled connection would get its own empty in-memory database.
        raise StoreError("in-memory SQLite is not supported: give the database a file path")
    return parsed


class StopOnce(aiosqlite.Connection):
    """aiosqlite's connection, whose worker thread is told to stop once. `stop()` queues the
    thread's last task; in aiosqlite 0.22 a second `stop()`, or a `close()` after one, queues
    another behind it that no thread will run, and `close()` awaits it for ever. SQLAlchemy
    does exactly that to a connection whose query is cancelled (it terminates the connection:
    force-close, then close, or the reverse), so a server stopped with a query in flight (a
    push's delivery being logged) hung in asyncio.run's final cancellation."""

    _first_stop: asyncio.Future[Any] | None = None
    _stopped = False

    def stop(self) -> asyncio.Future[Any] | None:
        if not self._stopped:
            self._stopped = True
            self._first_stop = super().stop()
        return self._first_stop


def connect_sqlite(database: str, **kwargs: Any) -> aiosqlite.Connection:
    """What SQLAlchemy's aiosqlite dialect does (`async_creator_fn`), with `StopOnce`."""

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return opened

    connection = StopOnce(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as the dialect does: never keeps the process alive
    return connection


def _engine(url: URL, *, migrating: bool = False) -> AsyncEngine:
    if url.get_backend_name() != "sqlite":
        # pre_ping: a PostgreSQL restart must not fail the first query after it.
        return create_async_engine(url, pool_pre_ping=True)
    engine = create_async_engine(url, connect_args={"async_creator_fn": connect_sqlite})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # First, so that everything after it (switching to WAL included) waits for a
            # lock held by another connection or process instead of failing.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # WAL: readers never block the writer, and one writer at a time waits (up to the
            # busy timeout) instead of failing.
            _wal(cursor)
            # FULL, not NORMAL: in WAL mode NORMAL syncs the log only at checkpoints, so a
            # commit survives a crash of the process but not a power loss, and an event the
            # agent was told was stored (2xx) could vanish with the doorbell's power. FULL
            # costs one fsync per commit; events and deliveries come a few a minute.
            cursor.execute("PRAGMA synchronous=FULL")
            # SQLite enforces foreign keys (ON DELETE CASCADE / SET NULL) only when asked,
            # per connection. Migrations run with them off: SQLite's batch mode recreates
            # tables, and dropping a referenced table would cascade into its children.
            cursor.execute(f"PRAGMA foreign_keys={'OFF' if migrating else 'ON'}")
        finally:
            cursor.close()
        if migrating:
            # Python's sqlite3 commits before DDL on its own; with its transaction handling
            # off and an explicit BEGIN, a migration is all or nothing, and a power loss
            # halfway does not leave tables that Alembic has not recorded.
            dbapi_connection.isolation_level = None

    if migrating:

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Connection) -> None:
            # IMMEDIATE: take the write lock first, so a second migrating process waits for
            # this one and then finds the database at head.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _wal(cursor: Any) -> None:
    """Switch to WAL, retrying SQLITE_BUSY up to the busy timeout. The busy handler does not
    cover this statement on a brand-new database: switching a rollback-journal database to
    WAL opens a read transaction, then upgrades it to write the header, and SQLite refuses that
    upgrade at once ("database is locked") while another connection holds the write lock,
    since waiting with a read lock held could deadlock. Three processes starting on a new
    database (one already migrating under BEGIN IMMEDIATE) met it ~1 time in 100."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)  # the connect hook runs in the driver's thread, not the loop
            pause = min(pause * 2, 0.1)
        else:
            return


async def _upgrade(url: URL, *, action: str, revision: str = "head") -> None:
    where = f"{action} {_safe(url)}"
    if url.get_backend_name() == "sqlite" and url.database:
        directory = Path(url.database).parent
        try:
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{where}: cannot create {directory}: {exc}") from exc
    engine = _engine(url, migrating=True)
    one_at_a_time = _migrating.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    try:
        with translated(where):
            async with one_at_a_time, engine.begin() as connection:
                await connection.run_sync(_upgrade_to, revision)
    except CommandError as exc:
        # E.g. the database is at a revision this version does not know (a newer Doorbell).
        raise StoreError(f"{where}: {describe(exc)}") from exc
    finally:
        await engine.dispose()


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        # Two processes migrating at once (a start and `doorbell migrate`) take turns; the
        # lock goes with the transaction, after the second one has found the database at head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    command.upgrade(config, revision)
    if connection.dialect.name == "sqlite":
        broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
        if broken:
            raise StoreError(f"the migration left rows with dangling foreign keys: {broken[:5]}")
