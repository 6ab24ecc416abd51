"""The API token repository: users' tokens, found by the SHA-256 of the token."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts.model import TokenRecord, UserRecord
from api.store.errors import translated
from api.store.schema import ApiTokenRow, UserRow
from api.store.users import user_record


def _record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        created_ms=row.created_ms,
        last_used_ms=row.last_used_ms,
    )


class TokenStore:
    """API tokens by id, unique by hash. Each call is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, record: TokenRecord, token_hash: str) -> None:
        row = ApiTokenRow(
            id=record.id,
            user_id=record.user_id,
            name=record.name,
            token_hash=token_hash,
            created_ms=record.created_ms,
            last_used_ms=record.last_used_ms,
        )
        with translated("cannot store an API token"):
            async with self._sessions.begin() as session:
                session.add(row)

    async def with_user(self, token_hash: str) -> tuple[TokenRecord, UserRecord] | None:
        """The token with this hash and its user, in one query."""
        query = (
            select(ApiTokenRow, UserRow)
            .join(UserRow, UserRow.id == ApiTokenRow.user_id)
            .where(ApiTokenRow.token_hash == token_hash)
        )
        with translated("cannot read an API token"):
            async with self._sessions() as session:
                found = (await session.execute(query)).first()
                if found is None:
                    return None
                return _record(found[0]), user_record(found[1])

    async def of_user(self, user_id: str) -> list[TokenRecord]:
        """The user's tokens, oldest first."""
        query = (
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id)
            .order_by(ApiTokenRow.created_ms, ApiTokenRow.id)
        )
        with translated("cannot list API tokens"):
            async with self._sessions() as session:
                return [_record(row) for row in await session.scalars(query)]

    async def touch(self, token_id: str, last_used_ms: int) -> None:
        statement = (
            update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_ms=last_used_ms)
        )
        with translated("cannot update an API token"):
            async with self._sessions.begin() as session:
                await session.execute(statement)

    async def delete(self, token_id: str, user_id: str) -> bool:
        """Revoke the token if it is the user's; whether it was."""
        statement = (
            delete(ApiTokenRow)
            .where(ApiTokenRow.id == token_id, ApiTokenRow.user_id == user_id)
            .returning(ApiTokenRow.id)
        )
        with translated("cannot revoke an API token"):
            async with self._sessions.begin() as session:
                return (await session.scalars(statement)).first() is not None
