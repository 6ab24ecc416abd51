"""The event repository: add once, page newest first by keyset, update media, retention."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Sequence
from dataclasses import asdict
from typing import Any, cast

from sqlalchemy import Select, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import BadRequest
from api.events.model import Box, EventRecord, MediaState
from api.store.errors import translated
from api.store.schema import EventRow
from common.events import EventKind

# Bound parameters per statement stay far below SQLite's (32766) and asyncpg's (32767) limits.
CHUNK = 500
_CURSOR = re.compile(r"(-?\d{1,19}):(.{1,256})", re.DOTALL)
_INT64 = 2**63 - 1


def encode_cursor(at_ms: int, event_id: str) -> str:
    """The opaque cursor after (at_ms, id): unpadded urlsafe base64 of "at_ms:id"."""
    return base64.urlsafe_b64encode(f"{at_ms}:{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(at_ms, id) of a cursor `encode_cursor` made; BadRequest("cursor") for anything else."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        match = _CURSOR.fullmatch(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        match = None
    if match is None or abs(int(match[1])) > _INT64:
        raise BadRequest("cursor", "cursor is malformed: pass back the `next` value of a page")
    return int(match[1]), match[2]


def _record(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        camera=row.camera,
        kind=cast(EventKind, row.kind),
        at_ms=row.at_ms,
        agent_at_ms=row.agent_at_ms,
        clock_offset_ms=row.clock_offset_ms,
        received_ms=row.received_ms,
        score=row.score,
        box=cast(Box, tuple(row.box)) if row.box is not None else None,
        ended_at_ms=row.ended_at_ms,
        snapshot_state=cast(MediaState, row.snapshot_state),
        snapshot_path=row.snapshot_path,
        snapshot_at_ms=row.snapshot_at_ms,
        clip_state=cast(MediaState, row.clip_state),
        clip_path=row.clip_path,
        clip_start_ms=row.clip_start_ms,
        clip_end_ms=row.clip_end_ms,
        clip_bytes=row.clip_bytes,
    )


_NEWEST_FIRST = (EventRow.at_ms.desc(), EventRow.id.desc())
_OLDEST_FIRST = (EventRow.at_ms.asc(), EventRow.id.asc())


class EventStore:
    """Events by id. Each call is one transaction; every method returns frozen records."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, event: EventRecord) -> tuple[EventRecord, bool]:
        """Store `event` unless its id is stored already: (the stored one, whether it was
        new). Concurrent adds of one id store it once: the insert does nothing on conflict
        (the database arbitrates on the primary key), then the row is read back."""
        with translated(f"cannot store event {event.id}"):
            async with self._sessions.begin() as session:
                dialect = session.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                # The write comes first in the transaction: on SQLite it takes the write lock
                # (waiting up to the busy timeout) instead of failing to upgrade a read.
                inserted = await session.scalar(
                    insert(EventRow)
                    .values(asdict(event))  # fields are the columns; JSON takes the box tuple
                    .on_conflict_do_nothing(index_elements=[EventRow.id])
                    .returning(EventRow.id)
                )
                row = await session.get_one(EventRow, event.id)
                return _record(row), inserted is not None

    async def get(self, event_id: str) -> EventRecord | None:
        with translated(f"cannot read event {event_id}"):
            async with self._sessions() as session:
                row = await session.get(EventRow, event_id)
                return _record(row) if row is not None else None

    async def page(
        self,
        *,
        camera: str | None = None,
        kinds: Collection[EventKind] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[EventRecord], str | None]:
        """Up to `limit` events newest first (at_ms, then id, descending) and the cursor of
        the next page (None on the last). `start_ms` is inclusive, `end_ms` exclusive."""
        if limit < 1:
            raise BadRequest("limit", f"limit must be at least 1, not {limit}")
        query = select(EventRow)
        if camera is not None:
            query = query.where(EventRow.camera == camera)
        if kinds is not None:
            query = query.where(EventRow.kind.in_(list(kinds)))
        if start_ms is not None:
            query = query.where(EventRow.at_ms >= start_ms)
        if end_ms is not None:
            query = query.where(EventRow.at_ms < end_ms)
        if cursor is not None:
            query = query.where(tuple_(EventRow.at_ms, EventRow.id) < decode_cursor(cursor))
        rows = await self._list("cannot list events", query.order_by(*_NEWEST_FIRST), limit + 1)
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last.at_ms, last.id)

    async def set_snapshot(
        self, event_id: str, state: MediaState, path: str | None, at_ms: int | None
    ) -> EventRecord | None:
        return await self._update(
            event_id, snapshot_state=state, snapshot_path=path, snapshot_at_ms=at_ms
        )

    async def set_clip(
        self,
        event_id: str,
        state: MediaState,
        path: str | None,
        start_ms: int | None,
        end_ms: int | None,
        size: int | None,
    ) -> EventRecord | None:
        return await self._update(
            event_id,
            clip_state=state,
            clip_path=path,
            clip_start_ms=start_ms,
            clip_end_ms=end_ms,
            clip_bytes=size,
        )

    async def set_ended(self, event_id: str, ended_at_ms: int) -> EventRecord | None:
        return await self._update(event_id, ended_at_ms=ended_at_ms)

    async def open_motion(self, camera: str) -> EventRecord | None:
        """The camera's newest motion_start that has no end yet."""
        query = select(EventRow).where(
            EventRow.camera == camera,
            EventRow.kind == "motion_start",
            EventRow.ended_at_ms.is_(None),
        )
        rows = await self._list("cannot find open motion", query.order_by(*_NEWEST_FIRST), 1)
        return rows[0] if rows else None

    async def pending_media(self) -> list[EventRecord]:
        """Events whose snapshot or clip is still to be made, or to be retried after its write
        failed (restart recovery), oldest first."""
        unsettled = ("pending", "error")
        query = select(EventRow).where(
            or_(EventRow.snapshot_state.in_(unsettled), EventRow.clip_state.in_(unsettled))
        )
        return await self._list("cannot list pending media", query.order_by(*_OLDEST_FIRST))

    async def saved_clips(self) -> list[EventRecord]:
        """Events whose clip is on disk, oldest first: what size retention may remove."""
        query = select(EventRow).where(EventRow.clip_state == "ready")
        return await self._list("cannot list saved clips", query.order_by(*_OLDEST_FIRST))

    async def older_than(self, at_ms: int, limit: int = 500) -> list[EventRecord]:
        """Up to `limit` events before `at_ms`, oldest first: what age retention removes."""
        query = select(EventRow).where(EventRow.at_ms < at_ms).order_by(*_OLDEST_FIRST)
        return await self._list("cannot list old events", query, limit)

    async def delete(self, ids: Collection[str]) -> list[EventRecord]:
        """Delete these events with their deliveries; the deleted ones, oldest first (the
        caller removes their files). Unknown ids are ignored."""
        unique = sorted(set(ids))
        deleted: list[EventRow] = []
        with translated("cannot delete events"):
            async with self._sessions.begin() as session:
                for i in range(0, len(unique), CHUNK):
                    statement = delete(EventRow).where(EventRow.id.in_(unique[i : i + CHUNK]))
                    deleted += await session.scalars(statement.returning(EventRow))
        return _oldest_first(deleted)

    async def clear(self) -> list[EventRecord]:
        """Delete every event (and delivery); the deleted ones, oldest first."""
        with translated("cannot delete events"):
            async with self._sessions.begin() as session:
                deleted = list(await session.scalars(delete(EventRow).returning(EventRow)))
        return _oldest_first(deleted)

    async def count(self) -> int:
        with translated("cannot count events"):
            async with self._sessions() as session:
                return await session.scalar(select(func.count()).select_from(EventRow)) or 0

    async def _update(self, event_id: str, **values: Any) -> EventRecord | None:
        """Set `values` on the event; the updated record, or None if there is no such event."""
        statement = update(EventRow).where(EventRow.id == event_id).values(values)
        with translated(f"cannot update event {event_id}"):
            async with self._sessions.begin() as session:
                row = await session.scalar(statement.returning(EventRow))
                return _record(row) if row is not None else None

    async def _list(
        self, action: str, query: Select[tuple[EventRow]], limit: int | None = None
    ) -> list[EventRecord]:
        if limit is not None:
            query = query.limit(limit)
        with translated(action):
            async with self._sessions() as session:
                return [_record(row) for row in await session.scalars(query)]


def _oldest_first(rows: Sequence[EventRow]) -> list[EventRecord]:
    return [_record(row) for row in sorted(rows, key=lambda row: (row.at_ms, row.id))]
