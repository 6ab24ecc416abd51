"""The accounts domain over a real SQLite store, on a fake clock with cheap argon2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.accounts.limiter import SignInLimiter
from api.accounts.passwords import Passwords
from api.accounts.sessions import Sessions
from api.accounts.tokens import ApiTokens
from api.accounts.users import Users
from api.store import Database, sqlite_url
from tests.api.fakes import CHEAP_HASHER, FakeClock

PASSWORD = "correct horse battery"


@dataclass
class Accounts:
    db: Database
    clock: FakeClock
    users: Users
    sessions: Sessions
    tokens: ApiTokens


@pytest.fixture
async def accounts(tmp_path: Path) -> AsyncIterator[Accounts]:
    db = await Database.open(sqlite_url(tmp_path / "doorbell.db"))
    clock = FakeClock()
    users = Users(db.users, db.sessions, Passwords(CHEAP_HASHER), clock)
    sessions = Sessions(
        users, db.sessions, SignInLimiter(clock=clock), idle_days=14, max_days=90, clock=clock
    )
    try:
        yield Accounts(db, clock, users, sessions, ApiTokens(db.tokens, clock))
    finally:
        await db.aclose()
