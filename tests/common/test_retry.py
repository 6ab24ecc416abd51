"""Backoff and Retry-After: the one formula every retry loop uses."""

from __future__ import annotations

import email.utils

import pytest

from common.retry import backoff_s, retry_after_s


def test_backoff_doubles_from_base_and_stops_at_the_cap() -> None:
    waits = [backoff_s(n, base_s=0.5, cap_s=10.0) for n in range(8)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_equal_jitter_keeps_the_upper_half_of_the_ceiling() -> None:
    assert backoff_s(2, base_s=1.0, cap_s=60.0, jitter=0.0) == 2.0
    assert backoff_s(2, base_s=1.0, cap_s=60.0, jitter=0.999) == pytest.approx(3.998)


def test_a_huge_failure_count_neither_overflows_nor_exceeds_the_cap() -> None:
    assert backoff_s(10**9, base_s=0.5, cap_s=30.0) == 30.0
    assert backoff_s(-3, base_s=0.5, cap_s=30.0) == 0.5


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("soon", None),
        ("²", None),  # str.isdigit() says yes; int() says no
        ("9" * 5000, None),  # not a wait, and beyond int()'s digit limit
        ("-5", None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert retry_after_s(header, now_ms=0) == expected


def test_retry_after_http_date_counts_from_now() -> None:
    now_ms = 1_700_000_000_000
    date = email.utils.formatdate((now_ms + 30_000) / 1000, usegmt=True)
    assert retry_after_s(date, now_ms) == pytest.approx(30.0)
    past = email.utils.formatdate((now_ms - 30_000) / 1000, usegmt=True)
    assert retry_after_s(past, now_ms) == 0.0
