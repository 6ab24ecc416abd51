"""Users: add, list, remove, set a password (the command line), and check one (sign-in)."""

from __future__ import annotations

import logging

from api.accounts.model import UserRecord
from api.accounts.passwords import (
    Passwords,
    check_name,
    check_password,
    is_valid_name,
    normalize_name,
)
from api.errors import Conflict, NotFound
from api.store import SessionStore, UserStore
from common.clock import Clock, wall_ms

logger = logging.getLogger(__name__)


class Users:
    """People who may sign in. Names are stored lowercase; passwords as argon2id hashes."""

    def __init__(
        self,
        store: UserStore,
        sessions: SessionStore,
        passwords: Passwords,
        clock: Clock = wall_ms,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._passwords = passwords
        self._clock = clock

    async def add(self, name: str, password: str) -> UserRecord:
        """A new user; BadRequest for a name or password outside the rules, Conflict when
        the name is taken."""
        name = check_name(name)
        check_password(password)
        password_hash = await self._passwords.hash(password)
        user = await self._store.add(name, password_hash, self._clock())
        if user is None:
            raise Conflict(f"user {name!r} exists already")
        return user

    async def all(self) -> list[UserRecord]:
        """Every user, by name."""
        return await self._store.list()

    async def remove(self, name: str) -> bool:
        """Remove the user with their sessions and API tokens; whether there was one."""
        name = normalize_name(name)
        return is_valid_name(name) and await self._store.delete(name)

    async def set_password(self, name: str, password: str) -> int:
        """Give the user a new password and end all their sessions (how many); NotFound for
        an unknown name, BadRequest for a password outside the rules."""
        name = normalize_name(name)
        user = await self._store.by_name(name) if is_valid_name(name) else None
        if user is None:
            raise NotFound("user", name)
        return await self.change_password(user, password, keep_session=None)

    async def change_password(
        self, user: UserRecord, password: str, *, keep_session: str | None
    ) -> int:
        """Store the new password and end every session of the user but `keep_session`; the
        number of sessions ended. API tokens stay: they are credentials of their own."""
        check_password(password, "new_password")
        password_hash = await self._passwords.hash(password)
        if not await self._store.set_password_hash(user.id, password_hash, self._clock()):
            raise NotFound("user", user.name)
        return await self._sessions.delete_of_user(user.id, keep=keep_session)

    async def check(self, user: UserRecord, password: str) -> bool:
        """Whether `password` is the user's."""
        return await self._passwords.verify(user.password_hash, password)

    async def authenticate(self, name: str, password: str) -> UserRecord | None:
        """The user with this name and password, or None (an unknown name takes as long as a
        wrong password). A hash made with older argon2 parameters is remade."""
        name = normalize_name(name)
        # A name outside the rule cannot exist, and must not reach the database (PostgreSQL
        # refuses a NUL character with an error, which would be a 503, not a 401).
        user = await self._store.by_name(name) if is_valid_name(name) else None
        if not await self._passwords.verify(user.password_hash if user else None, password):
            return None
        assert user is not None  # verify() is False without a hash
        if self._passwords.needs_rehash(user.password_hash):
            rehashed = await self._passwords.hash(password)
            await self._store.set_password_hash(user.id, rehashed, None)
            logger.info("user %r: password hash remade with current parameters", user.name)
        return user
