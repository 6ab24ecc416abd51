"""The one wall clock: UTC epoch milliseconds, as stored and sent everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable

# What takes a clock as a parameter (tests pass a fake one).
Clock = Callable[[], int]

# The last instant ISO-8601 (and Python's datetime) can write, 9999-12-31T23:59:59.999Z: the
# bound of every epoch-ms time the server accepts (15 digits; far inside SQLite's int64).
MAX_EPOCH_MS = 253_402_300_799_999


def wall_ms() -> int:
    """Now, in UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000
