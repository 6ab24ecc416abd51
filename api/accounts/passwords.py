"""Passwords: the rules for names and passwords, and argon2id hashing off the event loop.

argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes) costs
about a fifth of a second of one core, so hashes run in worker threads, a few at a time, and
a burst beyond that is told to come back (503) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.errors import BadRequest, Busy

T = TypeVar("T")

MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 1024  # argon2 takes any length; a megabyte would only cost time
NAME_RULE = (
    "1-64 characters of a-z (case is ignored), 0-9, '.', '_', '-' and '@', starting with a "
    "letter or digit"
)
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MAX_NAME_LEN = 64


def normalize_name(name: str) -> str:
    """The stored form of a user name: trimmed and lowercase (sign-in ignores case; phones
    capitalise the first letter)."""
    return name.strip().lower()


def is_valid_name(name: str) -> bool:
    """Whether `name` (normalized) follows the rule: no user can have any other."""
    return _NAME.fullmatch(name) is not None


def check_name(name: str) -> str:
    """The normalized name, or BadRequest("name") saying what is allowed."""
    normalized = normalize_name(name)
    if not is_valid_name(normalized):
        raise BadRequest("name", f"invalid user name {name!r}: {NAME_RULE}")
    return normalized


def check_password(password: str, parameter: str = "password") -> None:
    """BadRequest(`parameter`) unless the password is 10 to 1024 characters long."""
    if len(password) < MIN_PASSWORD_LEN:
        raise BadRequest(parameter, f"the password must be at least {MIN_PASSWORD_LEN} characters")
    if len(password) > MAX_PASSWORD_LEN:
        raise BadRequest(parameter, f"the password must be at most {MAX_PASSWORD_LEN} characters")


class Passwords:
    """argon2id hashes, made and checked in worker threads: at most `concurrency` at once and
    `queue` waiting; beyond, `Busy` (503, retry after 1 s). `hasher` sets the parameters
    (tests pass cheap ones); a stored hash made with other ones `needs_rehash`."""

    def __init__(
        self, hasher: PasswordHasher | None = None, *, concurrency: int = 2, queue: int = 8
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)
        self._capacity = concurrency + queue
        self._inside = 0

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(self._hasher.hash, password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches `password_hash`. With None (no such user) the password
        is hashed all the same (the same work as checking it), so an unknown name takes as
        long as a wrong password."""
        if password_hash is None:
            await self.hash(password)
            return False
        return await self._run(functools.partial(self._matches, password_hash, password))

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _run(self, work: Callable[[], T]) -> T:
        if self._inside >= self._capacity:
            raise Busy("too many passwords being checked; try again in 1 s", 1)
        self._inside += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._inside -= 1
