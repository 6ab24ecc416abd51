"""API tokens of users (native apps, scripts): made and shown once, stored hashed, listed,
revoked; a bearer token is looked up by its hash."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid

from api.accounts.model import SignedIn, TokenRecord, UserRecord
from api.store import TokenStore
from common.clock import Clock, wall_ms

# Recognisable in a leaked file or a log (secret scanners look for prefixes).
TOKEN_PREFIX = "dbt_"  # noqa: S105 (a prefix, not a secret)
TOKEN_BYTES = 32
TOUCH_EVERY_MS = 60_000


def token_hash(token: str) -> str:
    """What is stored of a token: SHA-256, hex (the token is 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokens:
    """Users' API tokens. `last_used_ms` is written at most once a minute per token."""

    def __init__(self, store: TokenStore, clock: Clock = wall_ms) -> None:
        self._store = store
        self._clock = clock

    async def create(self, user: UserRecord, name: str) -> tuple[TokenRecord, str]:
        """A new token of the user: (its record, the token), the token shown this once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        record = TokenRecord(
            id=str(uuid.uuid4()),
            user_id=user.id,
            name=name,
            created_ms=self._clock(),
            last_used_ms=None,
        )
        await self._store.add(record, token_hash(token))
        return record, token

    async def of_user(self, user: UserRecord) -> list[TokenRecord]:
        return await self._store.of_user(user.id)

    async def revoke(self, user: UserRecord, token_id: str) -> bool:
        """Revoke one of the user's tokens; False when the user has none with that id."""
        try:
            uuid.UUID(token_id)
        except ValueError:
            return False  # not an id this server makes: nothing to look up
        return await self._store.delete(token_id, user.id)

    async def authenticate(self, token: str) -> SignedIn | None:
        """The user whose token this is, or None."""
        found = await self._store.with_user(token_hash(token))
        if found is None:
            return None
        record, user = found
        now = self._clock()
        if record.last_used_ms is None or now - record.last_used_ms >= TOUCH_EVERY_MS:
            record = dataclasses.replace(record, last_used_ms=now)
            await self._store.touch(record.id, now)
        return SignedIn(user, token=record)
