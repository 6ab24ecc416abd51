"""The name and password rules, and argon2id hashing off the event loop, bounded."""

from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher

from api.accounts.passwords import Passwords, check_name, check_password, normalize_name
from api.errors import BadRequest, Busy
from tests.api.fakes import CHEAP_HASHER

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("given", "stored"),
    [("ana", "ana"), (" Ana ", "ana"), ("bo.smith@home", "bo.smith@home"), ("x" * 64, "x" * 64)],
)
def test_names_are_stored_lowercase(given: str, stored: str) -> None:
    assert check_name(given) == stored == normalize_name(given)


@pytest.mark.parametrize("name", ["", " ", "x" * 65, "-ana", "ana smith", "anä", "a/b", "a\nb"])
def test_names_outside_the_rule_are_refused_saying_what_is_allowed(name: str) -> None:
    with pytest.raises(BadRequest, match="1-64 characters") as raised:
        check_name(name)
    assert raised.value.parameter == "name"


def test_passwords_are_10_to_1024_characters() -> None:
    check_password("x" * 10)
    check_password("x" * 1024)
    with pytest.raises(BadRequest, match="at least 10 characters"):
        check_password("x" * 9)
    with pytest.raises(BadRequest, match="at most 1024 characters") as raised:
        check_password("x" * 1025, "new_password")
    assert raised.value.parameter == "new_password"


async def test_a_hash_is_argon2id_and_verifies_only_its_password() -> None:
    passwords = Passwords(CHEAP_HASHER)
    stored = await passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "correct horse batter")
    assert not await passwords.verify("not a hash", "correct horse battery")
    assert not await passwords.verify(None, "correct horse battery")  # no such user


async def test_a_hash_made_with_other_parameters_needs_remaking() -> None:
    old = await Passwords(CHEAP_HASHER).hash("correct horse battery")
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(await stronger.hash("correct horse battery"))
    assert stronger.needs_rehash("not a hash")


async def test_beyond_the_running_and_waiting_hashes_a_caller_is_told_to_retry() -> None:
    passwords = Passwords(CHEAP_HASHER, concurrency=1, queue=1)
    first = asyncio.create_task(passwords.hash("correct horse battery"))
    second = asyncio.create_task(passwords.hash("correct horse battery"))
    await asyncio.sleep(0)  # both are inside: one hashing, one waiting for the slot
    with pytest.raises(Busy, match="try again") as raised:
        await passwords.hash("correct horse battery")
    assert raised.value.retry_after_s == 1
    assert all((await first, await second))
    assert await passwords.hash("correct horse battery")  # room again
