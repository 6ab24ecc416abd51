"""Sessions: what is stored of a sign-in, the sliding and the absolute expiry, last_seen at
most once a minute, the slow-down on sign-in and password change."""

from __future__ import annotations

import hashlib
import logging

import pytest

from api.accounts.sessions import session_id
from api.errors import Forbidden, TooManyAttempts, Unauthorized
from tests.api.accounts.conftest import PASSWORD, Accounts
from tests.api.store.test_store import query

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ana(accounts: Accounts) -> Accounts:
    await accounts.users.add("ana", PASSWORD)
    return accounts


async def test_only_the_hash_of_the_cookie_is_stored(ana: Accounts) -> None:
    new = await ana.sessions.sign_in("ana", PASSWORD, "192.0.2.7", "Firefox/140")
    assert len(new.cookie) >= 43  # 32 random bytes, urlsafe base64
    assert (
        new.session.id == hashlib.sha256(new.cookie.encode()).hexdigest() == session_id(new.cookie)
    )
    assert new.session.csrf_token != new.cookie
    assert (new.session.address, new.session.user_agent) == ("192.0.2.7", "Firefox/140")
    assert new.cookie_max_age_s == 90 * 86_400
    rows = await query(ana.db.url, "SELECT * FROM sessions")
    assert len(rows) == 1
    assert new.cookie not in repr(rows)
    current = await ana.sessions.current(new.cookie)
    assert current is not None
    assert (current.user, current.session) == (new.user, new.session)


async def test_a_wrong_password_or_name_is_one_unauthorized(ana: Accounts) -> None:
    with pytest.raises(Unauthorized, match="wrong username or password"):
        await ana.sessions.sign_in("ana", "wrong password", None, None)
    with pytest.raises(Unauthorized, match="wrong username or password"):
        await ana.sessions.sign_in("zed", PASSWORD, None, None)
    assert await ana.sessions.current("made-up-cookie") is None


async def test_last_seen_is_written_at_most_once_a_minute(ana: Accounts) -> None:
    new = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    start = ana.clock.now_ms
    ana.clock.advance(s=59.999)
    current = await ana.sessions.current(new.cookie)
    assert current is not None
    assert current.session is not None
    assert current.session.last_seen_ms == start
    assert await query(ana.db.url, "SELECT last_seen_ms FROM sessions") == [(start,)]
    ana.clock.advance(ms=1)
    current = await ana.sessions.current(new.cookie)
    assert current is not None
    assert current.session is not None
    assert current.session.last_seen_ms == ana.clock.now_ms
    assert current.session.expires_ms == ana.clock.now_ms + 14 * 86_400_000
    assert await query(ana.db.url, "SELECT last_seen_ms, expires_ms FROM sessions") == [
        (ana.clock.now_ms, ana.clock.now_ms + 14 * 86_400_000)
    ]


async def test_a_session_unused_for_the_idle_time_ends_and_use_slides_it(ana: Accounts) -> None:
    new = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    ana.clock.advance(days=13)
    assert await ana.sessions.current(new.cookie) is not None  # slides to day 27
    ana.clock.advance(days=14, ms=-1)
    assert await ana.sessions.current(new.cookie) is not None
    ana.clock.advance(days=14)
    assert await ana.sessions.current(new.cookie) is None
    assert await query(ana.db.url, "SELECT count(*) FROM sessions") == [(0,)]


async def test_a_session_ends_at_its_longest_lifetime_however_used(ana: Accounts) -> None:
    new = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    for _ in range(8):
        ana.clock.advance(days=11)
        assert await ana.sessions.current(new.cookie) is not None
    ana.clock.advance(days=90 - 88, ms=-1)
    current = await ana.sessions.current(new.cookie)
    assert current is not None
    assert current.session is not None
    assert current.session.expires_ms == new.session.created_ms + 90 * 86_400_000
    ana.clock.advance(ms=1)
    assert await ana.sessions.current(new.cookie) is None


async def test_expired_sessions_are_not_listed_and_are_purged_at_sign_in(ana: Accounts) -> None:
    old = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    ana.clock.advance(days=15)
    assert await ana.sessions.of_user(old.user) == []
    new = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    assert await ana.sessions.of_user(old.user) == [new.session]
    assert await query(ana.db.url, "SELECT id FROM sessions") == [(new.session.id,)]


async def test_a_user_ends_only_their_own_sessions(ana: Accounts) -> None:
    await ana.users.add("bo", PASSWORD)
    mine = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    theirs = await ana.sessions.sign_in("bo", PASSWORD, None, None)
    assert not await ana.sessions.end(mine.user, theirs.session.id)
    assert await ana.sessions.current(theirs.cookie) is not None
    assert await ana.sessions.end(mine.user, mine.session.id)
    assert await ana.sessions.current(mine.cookie) is None


async def test_sign_in_is_refused_unchecked_after_repeated_failures(
    ana: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            with pytest.raises(Unauthorized):
                await ana.sessions.sign_in("Ana", "guess-0123456789", "192.0.2.7", None)
        with pytest.raises(TooManyAttempts) as raised:
            await ana.sessions.sign_in("ana", PASSWORD, "198.51.100.1", None)  # the right one
    assert raised.value.retry_after_s == 1
    assert "try again in 1 s" in str(raised.value)
    assert "guess-0123456789" not in caplog.text
    assert "'ana'" in caplog.text
    assert "192.0.2.7" in caplog.text
    ana.clock.advance(s=1)
    assert (await ana.sessions.sign_in("ana", PASSWORD, "198.51.100.1", None)).user.name == "ana"


async def test_a_password_change_ends_the_other_sessions(ana: Accounts) -> None:
    here = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    there = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    who = await ana.sessions.current(here.cookie)
    assert who is not None
    assert await ana.sessions.change_password(who, PASSWORD, "a new password", None) == 1
    assert await ana.sessions.current(here.cookie) is not None
    assert await ana.sessions.current(there.cookie) is None
    assert await ana.users.authenticate("ana", "a new password") is not None


async def test_a_wrong_current_password_is_forbidden_and_counts_as_a_failure(
    ana: Accounts,
) -> None:
    new = await ana.sessions.sign_in("ana", PASSWORD, None, None)
    who = await ana.sessions.current(new.cookie)
    assert who is not None
    for _ in range(5):
        with pytest.raises(Forbidden, match="wrong current password"):
            await ana.sessions.change_password(who, "a guess 0123", "a new password", "192.0.2.7")
    with pytest.raises(TooManyAttempts):
        await ana.sessions.change_password(who, PASSWORD, "a new password", "192.0.2.7")
    assert await ana.users.authenticate("ana", PASSWORD) is not None
