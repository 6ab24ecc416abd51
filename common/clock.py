"""The one wall clock: UTC epoch milliseconds, as stored and sent everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable

# What takes a clock as a parameter (tests pass a fake one).
Clock = Callable[[], int]


def wall_ms() -> int:
    """Now, in UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000
