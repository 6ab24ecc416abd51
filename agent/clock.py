"""The agent's clock offset to the server, measured NTP-style from HTTP responses.

offset = server time - midpoint of the request on the agent's clock, so server time =
`at_ms + clock_offset_ms`. The server time is the JSON body's `server_time_ms` when present,
else the `Date` header (1-s resolution, so +-500 ms at best). Of the last few samples the one
with the smallest uncertainty (half the round trip plus half the resolution) wins.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import logging
import math
from dataclasses import dataclass
from datetime import UTC

import httpx

logger = logging.getLogger(__name__)

DATE_RESOLUTION_MS = 1000.0
BODY_RESOLUTION_MS = 1.0


@dataclass(frozen=True, slots=True)
class OffsetSample:
    """One measurement of server clock minus agent clock, and how far off it may be."""

    offset_ms: float
    uncertainty_ms: float


def offset_sample(
    sent_at_ms: float, rtt_ms: float, server_ms: float, resolution_ms: float
) -> OffsetSample:
    """NTP-style: the server stamped its (truncated) time somewhere within the round trip; we
    take the midpoint, and the middle of the timestamp's resolution interval."""
    midpoint = sent_at_ms + rtt_ms / 2
    return OffsetSample(
        offset_ms=server_ms + resolution_ms / 2 - midpoint,
        uncertainty_ms=rtt_ms / 2 + resolution_ms / 2,
    )


class ClockOffset:
    """The best of the last `window` samples (smallest uncertainty). A sample that disagrees
    with the estimate by more than both uncertainties plus `step_ms` means a clock was stepped
    (NTP after boot on a Pi without RTC): the older samples are forgotten."""

    def __init__(self, window: int = 8, step_ms: float = 2000.0) -> None:
        self._samples: collections.deque[OffsetSample] = collections.deque(maxlen=window)
        self._step_ms = step_ms

    def add(self, sample: OffsetSample) -> None:
        best = self._best()
        if best is not None and abs(sample.offset_ms - best.offset_ms) > (
            sample.uncertainty_ms + best.uncertainty_ms + self._step_ms
        ):
            logger.info(
                "clock offset moved from %.0f to %.0f ms: a clock was stepped",
                best.offset_ms,
                sample.offset_ms,
            )
            self._samples.clear()
        self._samples.append(sample)

    @property
    def estimate_ms(self) -> int | None:
        best = self._best()
        return None if best is None else round(best.offset_ms)

    def _best(self) -> OffsetSample | None:
        return min(self._samples, key=lambda s: s.uncertainty_ms, default=None)


def server_time(response: httpx.Response) -> tuple[float, float] | None:
    """(server time in epoch ms, its resolution in ms) from a response, or None."""
    if response.headers.get("content-type", "").startswith("application/json"):
        # OverflowError: an integer too large for a float.
        with contextlib.suppress(ValueError, OverflowError):
            body = response.json()
            value = body.get("server_time_ms") if isinstance(body, dict) else None
            # json.loads reads NaN and Infinity, which no offset estimate survives.
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                return float(value), BODY_RESOLUTION_MS
    date = response.headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(date)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.timestamp() * 1000, DATE_RESOLUTION_MS
    return None
