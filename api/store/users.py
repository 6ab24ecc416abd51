"""The user repository: people who may sign in, unique by name, with their password hash."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts.model import UserRecord
from api.store.errors import translated
from api.store.schema import UserRow


def user_record(row: UserRow) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        password_hash=row.password_hash,
        created_ms=row.created_ms,
        password_changed_ms=row.password_changed_ms,
    )


class UserStore:
    """Users by id, unique by name. Each call is one transaction; their sessions and API
    tokens go with them (ON DELETE CASCADE)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, name: str, password_hash: str, now_ms: int) -> UserRecord | None:
        """A new user, or None when the name is taken. One statement (INSERT .. ON CONFLICT
        DO NOTHING): two adds of one name cannot both succeed."""
        values = {
            "id": str(uuid.uuid4()),
            "name": name,
            "password_hash": password_hash,
            "created_ms": now_ms,
            "password_changed_ms": now_ms,
        }
        with translated(f"cannot add user {name!r}"):
            async with self._sessions.begin() as session:
                dialect = session.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                statement = (
                    insert(UserRow)
                    .values(values)
                    .on_conflict_do_nothing(index_elements=[UserRow.name])
                    .returning(UserRow)
                )
                row = (await session.scalars(statement)).first()
                return user_record(row) if row is not None else None

    async def by_name(self, name: str) -> UserRecord | None:
        query = select(UserRow).where(UserRow.name == name)
        with translated(f"cannot read user {name!r}"):
            async with self._sessions() as session:
                row = (await session.scalars(query)).first()
                return user_record(row) if row is not None else None

    async def list(self) -> list[UserRecord]:
        """Every user, by name."""
        with translated("cannot list users"):
            async with self._sessions() as session:
                rows = await session.scalars(select(UserRow).order_by(UserRow.name))
                return [user_record(row) for row in rows]

    async def delete(self, name: str) -> bool:
        """Remove the user with their sessions and tokens; whether there was one."""
        statement = delete(UserRow).where(UserRow.name == name).returning(UserRow.id)
        with translated(f"cannot remove user {name!r}"):
            async with self._sessions.begin() as session:
                return (await session.scalars(statement)).first() is not None

    async def set_password_hash(
        self, user_id: str, password_hash: str, changed_ms: int | None
    ) -> bool:
        """Store a new hash; `changed_ms` None keeps password_changed_ms (a rehash of the same
        password). Whether the user exists."""
        values: dict[str, object] = {"password_hash": password_hash}
        if changed_ms is not None:
            values["password_changed_ms"] = changed_ms
        statement = (
            update(UserRow).where(UserRow.id == user_id).values(values).returning(UserRow.id)
        )
        with translated("cannot store a password"):
            async with self._sessions.begin() as session:
                return (await session.scalars(statement)).first() is not None
