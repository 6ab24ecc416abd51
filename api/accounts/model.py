"""Value objects of the accounts domain (users, sessions, API tokens), shared by the store,
the domain and the routes. A leaf: it imports nothing of `api`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A person who may sign in. `name` is lowercase; the hash is argon2id's encoded string."""

    id: str
    name: str
    password_hash: str
    created_ms: int
    password_changed_ms: int


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in browser. `id` is the SHA-256 of the cookie's value (hex), never the value:
    a copy of the table signs nobody in."""

    id: str
    user_id: str
    csrf_token: str
    created_ms: int
    last_seen_ms: int  # updated at most once a minute
    expires_ms: int  # sliding: min(last seen + idle time, created + the longest lifetime)
    user_agent: str | None
    address: str | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token of a user (a native app, a script). Stored as the SHA-256 of the token."""

    id: str
    user_id: str
    name: str
    created_ms: int
    last_used_ms: int | None  # updated at most once a minute; None: never used


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A request's user: by their session cookie (`session`) or one of their API tokens
    (`token`)."""

    user: UserRecord
    session: SessionRecord | None = None
    token: TokenRecord | None = None
