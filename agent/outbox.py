"""The durable event outbox: a bounded, ordered SQLite queue of events awaiting the uplink.

Durability: WAL journal with `synchronous=FULL`. In WAL mode FULL fsyncs the WAL on every
commit, so `put()` returns only once the event is on the storage medium: a ring survives a
power cut right after the press. NORMAL would skip that fsync (commits become durable at the
next checkpoint) and a power cut could silently lose the last few events; the price of FULL
is one fsync per put and per remove, a few ms on an SD card for a handful of events a minute.

Bound (`admission()`): motion events never take the outbox past `max_events`; rings always
enter. A put into a full outbox first deletes the oldest motion events (motion_start and
motion_end alike) until the newcomer fits. An incoming motion event is the newest motion
event, so it is itself refused only when rings alone fill the outbox. Rings are never
dropped, so rings alone may exceed `max_events`; the bound then holds zero motion events.
A dropped motion_start may leave its motion_end unpaired; the server must accept that.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from agent.errors import OutboxError
from agent.events import RING, Event, Kind

logger = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: delivery order, stable handle
    id      TEXT    NOT NULL UNIQUE,
    kind    TEXT    NOT NULL,
    payload TEXT    NOT NULL                     -- Event.to_payload(offset at capture) as JSON
);
CREATE INDEX IF NOT EXISTS outbox_kind_seq ON outbox (kind, seq);
"""


class Pending(NamedTuple):
    """An event waiting in the outbox, its sequence number (the delivery order) and the clock
    offset measured when it was captured (None: none was known then)."""

    seq: int
    event: Event
    clock_offset_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """What a put does: delete this many of the oldest motion events, then insert or not."""

    drop_oldest_motion: int
    accept: bool


def admission(*, rings: int, motion: int, incoming: Kind, max_events: int) -> Admission:
    """The bound, decided on counts alone (pure): see the module docstring for the rule."""
    over = rings + motion + 1 - max_events
    if over <= 0:
        return Admission(0, accept=True)
    if incoming == RING:
        return Admission(min(over, motion), accept=True)
    if over <= motion:
        return Admission(over, accept=True)
    # Rings alone fill the outbox: every motion event goes, the newcomer included.
    return Admission(motion, accept=False)


class Outbox:
    """The outbox file. Synchronous and thread-safe (one lock); asyncio code uses AsyncOutbox."""

    def __init__(self, path: str | Path, max_events: int) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, got {max_events}")
        self.path = Path(path)
        self.max_events = max_events
        self.dropped = 0  # motion events dropped by the bound, and unreadable rows, since open
        self._lock = threading.Lock()
        with self._guard("open"):
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5
            )
            try:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode != "wal":
                    logger.warning("outbox %s: journal_mode is %s, not wal", self.path, mode)
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            except BaseException:
                self._db.close()
                raise

    def put(self, event: Event, clock_offset_ms: int | None = None) -> bool:
        """Store `event` durably (fsynced) before returning, with the clock offset known when
        it was captured (sent with it, not the offset at sending time: the agent's clock may
        be stepped in between). False if the bound refused it.

        A second put of the same event id is a no-op that returns True.
        """
        with self._lock, self._guard("put"), self._transaction():
            if self._db.execute("SELECT 1 FROM outbox WHERE id = ?", (event.id,)).fetchone():
                return True
            total, rings = self._db.execute(
                "SELECT count(*), coalesce(sum(kind = ?), 0) FROM outbox", (RING,)
            ).fetchone()
            decision = admission(
                rings=rings, motion=total - rings, incoming=event.kind, max_events=self.max_events
            )
            if decision.drop_oldest_motion:
                self._db.execute(
                    "DELETE FROM outbox WHERE seq IN "
                    "(SELECT seq FROM outbox WHERE kind != ? ORDER BY seq LIMIT ?)",
                    (RING, decision.drop_oldest_motion),
                )
            if decision.accept:
                self._db.execute(
                    "INSERT INTO outbox (id, kind, payload) VALUES (?, ?, ?)",
                    (event.id, event.kind, json.dumps(event.to_payload(clock_offset_ms))),
                )
        lost = decision.drop_oldest_motion + (0 if decision.accept else 1)
        if lost:
            self.dropped += lost
            logger.warning(
                "outbox full (%d events): dropped %d motion event(s)%s",
                self.max_events,
                lost,
                "" if decision.accept else ", the new one included",
            )
        return decision.accept

    def peek(self, n: int) -> list[Pending]:
        """Up to `n` events, oldest first. A row that no longer parses as an Event is deleted
        (and counted as dropped) rather than blocking the queue forever."""
        with self._lock, self._guard("peek"):
            rows = self._db.execute(
                "SELECT seq, payload FROM outbox ORDER BY seq LIMIT ?", (n,)
            ).fetchall()
            pending: list[Pending] = []
            for seq, payload in rows:
                try:
                    pending.append(_pending(seq, payload))
                except (ValueError, TypeError):
                    logger.exception("outbox: deleting unreadable event %d: %.300s", seq, payload)
                    self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                    self.dropped += 1
            return pending

    def remove(self, seqs: Iterable[int]) -> int:
        """Delete these events (durably); returns how many were still there."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock, self._guard("remove"), self._transaction():
            removed = 0
            for seq in seqs:
                removed += self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount
            return removed

    def count(self) -> int:
        with self._lock, self._guard("count"):
            count: int = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            return count

    def __len__(self) -> int:
        return self.count()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite may already have rolled back (disk full, I/O error): keep the first error.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {what} failed: {exc}") from exc


def _pending(seq: int, payload: str) -> Pending:
    """A stored row; its `clock_offset_ms` is absent from rows of older versions."""
    fields = json.loads(payload)
    if not isinstance(fields, dict):
        raise TypeError(f"an event is a JSON object, not {type(fields).__name__}")
    offset = fields.pop("clock_offset_ms", None)
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int)):
        raise ValueError(f"clock_offset_ms must be an integer, got {offset!r}")
    return Pending(seq, Event.from_payload(fields), offset)


class AsyncOutbox:
    """The Outbox for asyncio code: each call runs on one dedicated worker thread, in the order
    the calls were made, so SQLite never blocks the event loop. A call whose caller is
    cancelled still completes on the thread (a put may land although its await was cancelled).
    The pending work is bounded by the callers, each of which awaits its call."""

    def __init__(self, outbox: Outbox, executor: ThreadPoolExecutor | None = None) -> None:
        self._outbox = outbox
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="outbox")

    @classmethod
    async def open(cls, path: str | Path, max_events: int) -> AsyncOutbox:
        """Open (or create) the outbox file on the worker thread."""
        executor = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        loop = asyncio.get_running_loop()
        try:
            outbox = await loop.run_in_executor(executor, Outbox, path, max_events)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(outbox, executor)

    @property
    def dropped(self) -> int:
        return self._outbox.dropped

    @property
    def max_events(self) -> int:
        return self._outbox.max_events

    async def put(self, event: Event, clock_offset_ms: int | None = None) -> bool:
        return await self._call(self._outbox.put, event, clock_offset_ms)

    async def peek(self, n: int) -> list[Pending]:
        return await self._call(self._outbox.peek, n)

    async def remove(self, seqs: Iterable[int]) -> int:
        return await self._call(self._outbox.remove, list(seqs))

    async def count(self) -> int:
        return await self._call(self._outbox.count)

    async def aclose(self) -> None:
        """Close the file after every call already made, then let the worker thread end."""
        try:
            await self._call(self._outbox.close)
        finally:
            self._executor.shutdown(wait=False)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
