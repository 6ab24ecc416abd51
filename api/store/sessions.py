"""The sign-in session repository: sessions by the hash of their cookie, with their user."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts.model import SessionRecord, UserRecord
from api.store.errors import translated
from api.store.schema import SessionRow, UserRow
from api.store.users import user_record


def _record(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        csrf_token=row.csrf_token,
        created_ms=row.created_ms,
        last_seen_ms=row.last_seen_ms,
        expires_ms=row.expires_ms,
        user_agent=row.user_agent,
        address=row.address,
    )


class SessionStore:
    """Sessions by id (the SHA-256 of the cookie). Each call is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, record: SessionRecord) -> None:
        with translated("cannot store a session"):
            async with self._sessions.begin() as session:
                session.add(SessionRow(**asdict(record)))

    async def with_user(self, session_id: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session and its user, in one query (this runs on every request it signs)."""
        query = (
            select(SessionRow, UserRow)
            .join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.id == session_id)
        )
        with translated("cannot read a session"):
            async with self._sessions() as session:
                found = (await session.execute(query)).first()
                if found is None:
                    return None
                return _record(found[0]), user_record(found[1])

    async def of_user(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions, the most recently seen first."""
        query = (
            select(SessionRow)
            .where(SessionRow.user_id == user_id)
            .order_by(SessionRow.last_seen_ms.desc(), SessionRow.id)
        )
        with translated("cannot list sessions"):
            async with self._sessions() as session:
                return [_record(row) for row in await session.scalars(query)]

    async def touch(self, session_id: str, last_seen_ms: int, expires_ms: int) -> None:
        statement = (
            update(SessionRow)
            .where(SessionRow.id == session_id)
            .values(last_seen_ms=last_seen_ms, expires_ms=expires_ms)
        )
        with translated("cannot update a session"):
            async with self._sessions.begin() as session:
                await session.execute(statement)

    async def delete(self, session_id: str, user_id: str | None = None) -> bool:
        """End one session (only if it is `user_id`'s, when given); whether it existed."""
        where = SessionRow.id == session_id
        if user_id is not None:
            where &= SessionRow.user_id == user_id
        return await self._delete(where) > 0

    async def delete_of_user(self, user_id: str, keep: str | None = None) -> int:
        """End every session of the user but `keep`; how many ended."""
        where = SessionRow.user_id == user_id
        if keep is not None:
            where &= SessionRow.id != keep
        return await self._delete(where)

    async def delete_expired(self, now_ms: int) -> int:
        return await self._delete(SessionRow.expires_ms <= now_ms)

    async def _delete(self, where: ColumnElement[bool]) -> int:
        statement = delete(SessionRow).where(where).returning(SessionRow.id)
        with translated("cannot end sessions"):
            async with self._sessions.begin() as session:
                return len((await session.scalars(statement)).all())
