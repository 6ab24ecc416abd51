"""When to try again: capped exponential backoff with jitter, and the Retry-After header."""

from __future__ import annotations

import email.utils
from datetime import UTC

# 2**32 doublings overflow nothing and exceed any cap; more would only risk OverflowError.
_MAX_DOUBLINGS = 32


def backoff_s(failures: int, *, base_s: float, cap_s: float, jitter: float | None = None) -> float:
    """Seconds to wait after `failures` failures in a row (0: the first retry waits `base_s`):
    doubling from `base_s`, capped at `cap_s`.

    With `jitter` (a random number in [0, 1)) the wait is "equal jitter": half fixed, half
    random, so many clients that failed together spread out yet none retries at once.
    """
    ceiling = min(cap_s, base_s * 2.0 ** min(max(failures, 0), _MAX_DOUBLINGS))
    if jitter is None:
        return ceiling
    return ceiling * (0.5 + 0.5 * jitter)


def retry_after_s(value: str | None, now_ms: int) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None
    when there is none or it cannot be read. A date in the past means 0."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        # Bounded: a header of 5,000 digits is not a wait, and int() would refuse it.
        return float(value) if len(value) <= 9 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_ms / 1000)
