"""Sign-in sessions: sign in (slowed after failures), the session behind a cookie (sliding
expiry), sign out, a user's sessions, and a password change that ends the others."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from api.accounts.limiter import SignInLimiter
from api.accounts.model import SessionRecord, SignedIn, UserRecord
from api.accounts.passwords import normalize_name
from api.accounts.users import Users
from api.errors import Forbidden, Unauthorized
from api.store import SessionStore
from common.clock import Clock, wall_ms

logger = logging.getLogger(__name__)

COOKIE_BYTES = 32
# last_seen_ms (and so the sliding expiry) is written at most this often per session, not
# on every request: a player fetches a segment a second.
TOUCH_EVERY_MS = 60_000
MAX_USER_AGENT = 256
DAY_MS = 86_400_000
UNKNOWN_ADDRESS = "unknown"
_SESSION_ID = re.compile(r"[0-9a-f]{64}")


def session_id(cookie: str) -> str:
    """The stored id of the session behind `cookie`: SHA-256, hex. The cookie is 256 random
    bits, so a fast hash is enough: there is nothing to guess from the id."""
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewSession:
    """A sign-in: the session, its user, and the cookie's value (known only to the browser
    from now on) with how long the cookie may live."""

    session: SessionRecord
    user: UserRecord
    cookie: str
    cookie_max_age_s: int


class Sessions:
    """Signed-in browsers. A session ends after `idle_days` unused, `max_days` after sign-in,
    at sign-out, when its user changes the password elsewhere or is removed."""

    def __init__(
        self,
        users: Users,
        store: SessionStore,
        limiter: SignInLimiter,
        *,
        idle_days: int,
        max_days: int,
        clock: Clock = wall_ms,
    ) -> None:
        self._users = users
        self._store = store
        self._limiter = limiter
        self._idle_ms = idle_days * DAY_MS
        self._max_ms = max_days * DAY_MS
        self._clock = clock

    async def sign_in(
        self, name: str, password: str, address: str | None, user_agent: str | None
    ) -> NewSession:
        """A new session for the user; Unauthorized for a wrong name or password (the same
        for both), TooManyAttempts while this address or name must wait."""
        address = address or UNKNOWN_ADDRESS
        key = normalize_name(name)
        self._limiter.check(address, key)
        user = await self._users.authenticate(name, password)
        if user is None:
            self._limiter.failed(address, key)
            raise Unauthorized("wrong username or password")
        self._limiter.succeeded(key)
        now = self._clock()
        await self._store.delete_expired(now)
        cookie = secrets.token_urlsafe(COOKIE_BYTES)
        session = SessionRecord(
            id=session_id(cookie),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(COOKIE_BYTES),
            created_ms=now,
            last_seen_ms=now,
            expires_ms=self._expiry(now, now),
            user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
            address=address,
        )
        await self._store.add(session)
        logger.info("user %r signed in from %s", user.name, address)
        return NewSession(session, user, cookie, self._max_ms // 1000)

    async def current(self, cookie: str) -> SignedIn | None:
        """The user signed in by `cookie`, or None (unknown, ended or expired). Notes the use
        at most once a minute, which slides the expiry."""
        found = await self._store.with_user(session_id(cookie))
        if found is None:
            return None
        session, user = found
        now = self._clock()
        if now >= self._expiry(session.created_ms, session.last_seen_ms):
            await self._store.delete(session.id)
            return None
        if now - session.last_seen_ms >= TOUCH_EVERY_MS:
            expires_ms = self._expiry(session.created_ms, now)
            session = dataclasses.replace(session, last_seen_ms=now, expires_ms=expires_ms)
            await self._store.touch(session.id, now, expires_ms)
        return SignedIn(user, session=session)

    async def sign_out(self, session: SessionRecord) -> None:
        await self._store.delete(session.id)

    async def of_user(self, user: UserRecord) -> list[SessionRecord]:
        """The user's sessions that have not expired, the most recently seen first."""
        now = self._clock()
        return [
            s
            for s in await self._store.of_user(user.id)
            if now < self._expiry(s.created_ms, s.last_seen_ms)
        ]

    async def end(self, user: UserRecord, session_id: str) -> bool:
        """End one of the user's sessions; False when the user has none with that id."""
        if _SESSION_ID.fullmatch(session_id) is None:
            return False  # not an id this server makes: nothing to look up
        return await self._store.delete(session_id, user_id=user.id)

    async def change_password(
        self, who: SignedIn, current: str, new: str, address: str | None
    ) -> int:
        """Change the signed-in user's password and end their other sessions (how many).
        Forbidden for a wrong current password, which counts as a failed sign-in."""
        address = address or UNKNOWN_ADDRESS
        self._limiter.check(address, who.user.name)
        if not await self._users.check(who.user, current):
            self._limiter.failed(address, who.user.name)
            raise Forbidden("wrong current password")
        keep = who.session.id if who.session is not None else None
        return await self._users.change_password(who.user, new, keep_session=keep)

    def _expiry(self, created_ms: int, last_seen_ms: int) -> int:
        return min(last_seen_ms + self._idle_ms, created_ms + self._max_ms)
