"""Users: added under the rules, unique, removed with what they own; passwords set and
checked, hashes remade when argon2's parameters change."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from api.accounts.passwords import Passwords
from api.accounts.users import Users
from api.errors import BadRequest, Conflict, NotFound, Unauthorized
from tests.api.accounts.conftest import PASSWORD, Accounts

pytestmark = pytest.mark.anyio


async def test_a_user_is_added_lowercase_with_an_argon2id_hash(accounts: Accounts) -> None:
    user = await accounts.users.add(" Ana ", PASSWORD)
    assert (user.name, user.created_ms, user.password_changed_ms) == (
        "ana", accounts.clock.now_ms, accounts.clock.now_ms,
    )  # fmt: skip
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert await accounts.users.all() == [user]


async def test_names_and_passwords_outside_the_rules_and_taken_names_are_refused(
    accounts: Accounts,
) -> None:
    with pytest.raises(BadRequest, match="1-64 characters"):
        await accounts.users.add("ana smith", PASSWORD)
    with pytest.raises(BadRequest, match="at least 10"):
        await accounts.users.add("ana", "short")
    await accounts.users.add("ana", PASSWORD)
    with pytest.raises(Conflict, match="'ana' exists"):
        await accounts.users.add("ANA", "another password")
    assert [u.name for u in await accounts.users.all()] == ["ana"]


async def test_authenticate_ignores_the_case_of_the_name(accounts: Accounts) -> None:
    user = await accounts.users.add("ana", PASSWORD)
    assert await accounts.users.authenticate("Ana", PASSWORD) == user
    assert await accounts.users.authenticate("ana", PASSWORD.upper()) is None
    assert await accounts.users.authenticate("zed", PASSWORD) is None


async def test_signing_in_remakes_a_hash_made_with_older_parameters(accounts: Accounts) -> None:
    old = await accounts.users.add("ana", PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    users = Users(accounts.db.users, accounts.db.sessions, Passwords(stronger), accounts.clock)
    assert await users.authenticate("ana", "wrong password") is None
    assert await accounts.db.users.by_name("ana") == old  # not on a failure
    assert await users.authenticate("ana", PASSWORD) == old
    remade = await accounts.db.users.by_name("ana")
    assert remade is not None
    assert remade.password_hash != old.password_hash
    assert not stronger.check_needs_rehash(remade.password_hash)
    assert remade.password_changed_ms == old.password_changed_ms  # the same password
    assert await users.authenticate("ana", PASSWORD) == remade


async def test_set_password_ends_every_session_of_the_user(accounts: Accounts) -> None:
    await accounts.users.add("ana", PASSWORD)
    await accounts.users.add("bo", PASSWORD)
    ana = [await accounts.sessions.sign_in("ana", PASSWORD, None, None) for _ in range(2)]
    bo = await accounts.sessions.sign_in("bo", PASSWORD, None, None)
    accounts.clock.advance(s=5)
    assert await accounts.users.set_password("Ana", "a new password") == 2
    assert [await accounts.sessions.current(s.cookie) for s in ana] == [None, None]
    assert await accounts.sessions.current(bo.cookie) is not None
    changed = await accounts.users.authenticate("ana", "a new password")
    assert changed is not None
    assert changed.password_changed_ms == accounts.clock.now_ms
    assert await accounts.users.authenticate("ana", PASSWORD) is None
    with pytest.raises(NotFound, match="'zed'"):
        await accounts.users.set_password("zed", "a new password")
    with pytest.raises(BadRequest, match="at least 10"):
        await accounts.users.set_password("ana", "short")


async def test_removing_a_user_ends_their_sessions_and_tokens(accounts: Accounts) -> None:
    await accounts.users.add("ana", PASSWORD)
    signed_in = await accounts.sessions.sign_in("ana", PASSWORD, None, None)
    assert signed_in.user.name == "ana"
    _, token = await accounts.tokens.create(signed_in.user, "script")
    assert await accounts.users.remove("ANA")
    assert await accounts.sessions.current(signed_in.cookie) is None
    assert await accounts.tokens.authenticate(token) is None
    assert not await accounts.users.remove("ana")


HOSTILE = [
    "ana\x00",  # PostgreSQL refuses NUL in text: it must never reach the database
    "\x00",
    "a" * 10_000,
    "ana'; DROP TABLE users; --",
    "\uff21\uff2e\uff21",  # fullwidth ANA
]


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_name_no_user_can_have_is_unknown_on_every_database(
    accounts_anywhere: Accounts, name: str
) -> None:
    accounts = accounts_anywhere
    user = await accounts.users.add("ana", PASSWORD)
    assert await accounts.users.authenticate(name, PASSWORD) is None
    with pytest.raises(Unauthorized, match="wrong username or password"):
        await accounts.sessions.sign_in(name, PASSWORD, "192.0.2.1", None)
    assert not await accounts.users.remove(name)
    with pytest.raises(NotFound):
        await accounts.users.set_password(name, "a new password")
    signed_in = await accounts.sessions.sign_in("ana", PASSWORD, None, None)
    assert not await accounts.sessions.end(user, name)  # not a session id
    assert not await accounts.tokens.revoke(user, name)  # nor a token id
    assert await accounts.sessions.current(name) is None  # a cookie is only ever hashed
    assert await accounts.tokens.authenticate(name) is None
    assert await accounts.sessions.current(signed_in.cookie) is not None
