"""API tokens: shown once, stored hashed, found by hash, last use noted at most once a
minute, revoked by their user only."""

from __future__ import annotations

import pytest

from api.accounts.tokens import TOKEN_PREFIX, token_hash
from tests.api.accounts.conftest import PASSWORD, Accounts
from tests.api.store.test_store import query

pytestmark = pytest.mark.anyio


async def test_a_token_is_stored_as_its_hash_and_signs_its_user_in(accounts: Accounts) -> None:
    ana = await accounts.users.add("ana", PASSWORD)
    record, token = await accounts.tokens.create(ana, "backup script")
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) >= len(TOKEN_PREFIX) + 43
    assert (record.name, record.created_ms, record.last_used_ms) == (
        "backup script", accounts.clock.now_ms, None,
    )  # fmt: skip
    rows = await query(accounts.db.url, "SELECT token_hash FROM api_tokens")
    assert rows == [(token_hash(token),)]
    signed_in = await accounts.tokens.authenticate(token)
    assert signed_in is not None
    assert (signed_in.user, signed_in.session) == (ana, None)
    assert signed_in.token is not None
    assert signed_in.token.id == record.id
    assert await accounts.tokens.authenticate(token + "x") is None
    assert await accounts.tokens.authenticate(token_hash(token)) is None


async def test_last_used_is_written_at_most_once_a_minute(accounts: Accounts) -> None:
    ana = await accounts.users.add("ana", PASSWORD)
    _, token = await accounts.tokens.create(ana, "app")
    first = accounts.clock.now_ms
    await accounts.tokens.authenticate(token)
    accounts.clock.advance(s=59)
    await accounts.tokens.authenticate(token)
    assert [t.last_used_ms for t in await accounts.tokens.of_user(ana)] == [first]
    accounts.clock.advance(s=1)
    await accounts.tokens.authenticate(token)
    assert [t.last_used_ms for t in await accounts.tokens.of_user(ana)] == [first + 60_000]


async def test_a_token_is_revoked_by_its_user_only(accounts: Accounts) -> None:
    ana = await accounts.users.add("ana", PASSWORD)
    bo = await accounts.users.add("bo", PASSWORD)
    record, token = await accounts.tokens.create(ana, "app")
    assert not await accounts.tokens.revoke(bo, record.id)
    assert await accounts.tokens.authenticate(token) is not None
    assert await accounts.tokens.revoke(ana, record.id)
    assert await accounts.tokens.authenticate(token) is None
    assert await accounts.tokens.of_user(ana) == []
