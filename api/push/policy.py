"""Who gets a push and when (subscriptions, quiet hours, motion cooldown, ring collapsing,
retry delays): pure decisions over value objects, tested with fake clocks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.events.model import DeviceRecord, EventRecord, QuietHours
from common.retry import backoff_s

logger = logging.getLogger(__name__)

DEFAULT_MOTION_COOLDOWN_MS = 60_000


def recipients(
    event: EventRecord, devices: Sequence[DeviceRecord], now_ms: int
) -> list[DeviceRecord]:
    """The devices `event` is pushed to, in the given order. Rings go to every device
    subscribed to the camera, quiet hours or not; the start of motion only to those that
    want motion and are outside their quiet hours; the end of motion to none."""
    if event.kind == "motion_end":
        return []
    subscribed = [d for d in devices if d.cameras is None or event.camera in d.cameras]
    if event.kind == "ring":
        return subscribed
    return [
        d
        for d in subscribed
        if d.motion and (d.quiet_hours is None or not in_quiet_hours(d.quiet_hours, now_ms))
    ]


def in_quiet_hours(quiet: QuietHours, now_ms: int) -> bool:
    """Whether `now_ms` falls in the daily window, read on the wall clock of the window's
    zone. start > end wraps midnight; start == end is no window. A window that cannot be
    read (unknown zone, bad time) is treated as absent: a missed alert is worse than an
    unwanted one, and registration is where such values are refused."""
    try:
        zone = ZoneInfo(quiet.timezone)
        start, end = _minutes(quiet.start), _minutes(quiet.end)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        logger.warning("ignoring unreadable quiet hours %r: %s", quiet, exc)
        return False
    if start == end:
        return False
    local = datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(zone)
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def _minutes(hhmm: str) -> int:
    hours, sep, minutes = hhmm.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"not HH:MM: {hhmm!r}")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"not a time of day: {hhmm!r}")
    return h * 60 + m


class MotionCooldown:
    """At most one motion push per camera per `cooldown_ms`. Rings never pass through it.
    Memory: one timestamp per camera that ever had motion (cameras are configured, so few).
    The window is symmetric: an event that long before the last push (a clock stepped back)
    passes too, rather than muting the camera until the clock catches up."""

    def __init__(self, cooldown_ms: int = DEFAULT_MOTION_COOLDOWN_MS) -> None:
        if cooldown_ms < 0:
            raise ValueError(f"cooldown_ms must be >= 0, not {cooldown_ms}")
        self._cooldown_ms = cooldown_ms
        self._last_ms: dict[str, int] = {}

    def allow(self, camera: str, at_ms: int) -> bool:
        """True (and the window restarts at `at_ms`) when no motion push for `camera` went
        out within the cooldown around `at_ms`."""
        last = self._last_ms.get(camera)
        if last is not None and abs(at_ms - last) < self._cooldown_ms:
            return False
        self._last_ms[camera] = at_ms
        return True


class RingCollapse(MotionCooldown):
    """At most one ring push per camera per window, timed by the server's clock when each
    ring arrives (not the agent's `at_ms`, which the agent chooses): a button pressed again
    and again, or a device token posting rings in a loop, makes one high-priority push per
    window, while every ring is still stored and shown to open apps. 0: every ring pushes."""


def retry_delay(
    attempt: int, min_s: float, max_s: float, retry_after_s: float | None, jitter: float
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first try): a doubling
    backoff from `min_s` capped at `max_s`, with "equal jitter" (`jitter` in [0, 1) picks a
    point in the upper half, so retries from many jobs spread out but never come at once).
    A longer Retry-After from FCM wins and is not capped by `max_s`: the cap bounds our own
    guess, while sending before the server's stated time only earns another 429. The
    message's TTL bounds the wait instead (the dispatcher expires what would arrive late)."""
    delay = backoff_s(attempt - 1, base_s=min_s, cap_s=max_s, jitter=jitter)
    if retry_after_s is not None and retry_after_s > delay:
        return retry_after_s
    return delay
