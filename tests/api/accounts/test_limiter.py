"""The slow-down of failed sign-ins: per address and per username, growing waits, forgetting,
bounded memory, one log line per burst. All on a fake clock."""

from __future__ import annotations

import logging

import pytest

from api.accounts.limiter import FailureCounts, SignInLimiter, SlowDown
from api.errors import TooManyAttempts
from tests.api.fakes import FakeClock

RULE = SlowDown(limit=5, window_s=900, base_s=1, cap_s=60, max_keys=100)


def fail(limiter: SignInLimiter, times: int, address: str = "192.0.2.1", user: str = "ana") -> None:
    for _ in range(times):
        limiter.check(address, user)
        limiter.failed(address, user)


def wait_s(limiter: SignInLimiter, address: str = "192.0.2.1", user: str = "ana") -> int:
    """Seconds the next attempt must wait (0: it is checked)."""
    try:
        limiter.check(address, user)
    except TooManyAttempts as exc:
        return exc.retry_after_s
    return 0


def test_the_first_failures_are_free_then_waits_double_up_to_the_cap() -> None:
    clock = FakeClock()
    limiter = SignInLimiter(RULE, clock)
    fail(limiter, 4)
    assert wait_s(limiter) == 0
    seen = []
    for _ in range(9):
        limiter.failed("192.0.2.1", "ana")
        seen.append(wait_s(limiter))
        clock.advance(s=seen[-1])
        assert wait_s(limiter) == 0  # the wait is over, to the millisecond
    assert seen == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_wait_is_rounded_up_to_whole_seconds() -> None:
    clock = FakeClock()
    limiter = SignInLimiter(RULE, clock)
    for _ in range(6):  # at one instant (racing requests): the sixth failure waits 2 s
        limiter.failed("192.0.2.1", "ana")
    clock.advance(ms=1001)
    assert wait_s(limiter) == 1
    clock.advance(ms=998)
    assert wait_s(limiter) == 1
    clock.advance(ms=1)
    assert wait_s(limiter) == 0


def test_failures_from_one_address_count_across_usernames() -> None:
    limiter = SignInLimiter(RULE, FakeClock())
    for n in range(5):
        limiter.failed("192.0.2.1", f"user{n}")
    assert wait_s(limiter, "192.0.2.1", "someone-else") == 1
    assert wait_s(limiter, "192.0.2.2", "someone-else") == 0


def test_failures_for_one_username_count_across_addresses() -> None:
    limiter = SignInLimiter(RULE, FakeClock())
    for n in range(5):
        limiter.failed(f"192.0.2.{n}", "ana")
    assert wait_s(limiter, "198.51.100.9", "ana") == 1
    assert wait_s(limiter, "198.51.100.9", "bo") == 0


def test_a_success_clears_the_username_but_not_the_address() -> None:
    limiter = SignInLimiter(RULE, FakeClock())
    fail(limiter, 4)
    limiter.succeeded("ana")
    for n in range(4):
        limiter.failed(f"198.51.100.{n}", "ana")
    assert wait_s(limiter, "198.51.100.9", "ana") == 0  # 4 since the success, not 8
    limiter.failed("192.0.2.1", "bo")  # the address's fifth
    assert wait_s(limiter, "192.0.2.1", "carol") == 1


def test_failures_are_forgotten_after_a_quiet_window_counted_from_the_last_wait() -> None:
    clock = FakeClock()
    limiter = SignInLimiter(RULE, clock)
    fail(limiter, 4)
    clock.advance(s=899)
    limiter.failed("192.0.2.1", "ana")  # the fifth within the window: waits
    assert wait_s(limiter) == 1
    clock.advance(s=1 + 899)
    assert wait_s(limiter) == 0
    limiter.failed("192.0.2.1", "ana")  # the sixth: the count was kept
    assert wait_s(limiter) == 2
    clock.advance(s=2 + 900)  # a whole quiet window after the wait
    limiter.failed("192.0.2.1", "ana")
    assert wait_s(limiter) == 0  # counting starts again


def test_memory_is_bounded_least_recently_failed_out_first() -> None:
    counts = FailureCounts(SlowDown(limit=1, max_keys=3))
    for key in ("a", "b", "c"):
        counts.failed(key, 0)
    counts.failed("a", 0)  # a is now the most recent
    counts.failed("d", 0)
    assert len(counts) == 3
    assert counts.wait_ms("b", 0) == 0  # dropped
    assert all(counts.wait_ms(key, 0) > 0 for key in ("a", "c", "d"))


def test_a_flood_of_usernames_does_not_grow_memory() -> None:
    limiter = SignInLimiter(SlowDown(max_keys=50), FakeClock())
    for n in range(1000):
        limiter.failed(f"10.0.{n // 250}.{n % 250}", f"user{n}")
    assert len(limiter._usernames) == 50
    assert len(limiter._addresses) == 50


def test_each_burst_is_logged_once_with_the_address_and_username(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    limiter = SignInLimiter(RULE, clock)
    with caplog.at_level(logging.WARNING, logger="api.accounts.limiter"):
        for _ in range(8):
            limiter.failed("192.0.2.1", "ana")
        assert len(caplog.records) == 1
        message = caplog.records[0].getMessage()
        assert "192.0.2.1" in message
        assert "'ana'" in message
        clock.advance(s=60 + 900)  # the burst is over and forgotten
        fail(limiter, 5)
    assert len(caplog.records) == 2
