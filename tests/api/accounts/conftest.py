"""The accounts domain over a real store, on a fake clock with cheap argon2: `accounts` on
SQLite, `accounts_anywhere` on SQLite and then PostgreSQL."""

from __future__ import annotations

import contextlib
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


@contextlib.asynccontextmanager
async def open_accounts(url: str) -> AsyncIterator[Accounts]:
    db = await Database.open(url)
    clock = FakeClock()
    users = Users(db.users, db.sessions, Passwords(CHEAP_HASHER), clock)
    sessions = Sessions(
        users, db.sessions, SignInLimiter(clock=clock), idle_days=14, max_days=90, clock=clock
    )
    try:
        yield Accounts(db, clock, users, sessions, ApiTokens(db.tokens, clock))
    finally:
        await db.aclose()


@pytest.fixture
async def accounts(tmp_path: Path) -> AsyncIterator[Accounts]:
    async with open_accounts(sqlite_url(tmp_path / "doorbell.db")) as opened:
        yield opened


@pytest.fixture
async def accounts_anywhere(url: str) -> AsyncIterator[Accounts]:
    async with open_accounts(url) as opened:
        yield opened
