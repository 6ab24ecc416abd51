"""The slow-down of failed sign-ins (per address and per username) and of failed
authentication of any other kind (per address), counted in memory.

Each key (an address, a username) counts its failures. From the `limit`-th on, every failure
makes the key wait before its next attempt is even checked: `base_s`, doubling with each
further failure, at most `cap_s` (`common.retry.backoff_s`). A key forgets its failures once
`window_s` pass with neither a failure nor a wait. A success clears the username's count (not
the address's: one account that signs in must not hide guesses at others).

Bounded: each kind keeps at most `max_keys` keys, least recently failed out first, so a
flood of made-up usernames costs memory once, not without limit. Restarts forget everything.

`AuthThrottle` applies the same rule to every other credential (bearer tokens, session
cookies, URL signatures, device tokens, the relay secret), by address only, and refuses a
waiting address before its credentials are checked, right ones included: were right ones let
through, a 401 against a 200 would still tell a guesser at full speed which guess was right.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

from api.errors import TooManyAttempts, TooManyFailures
from common.clock import Clock, wall_ms
from common.retry import backoff_s

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Failures:
    count: int
    last_ms: int
    wait_until_ms: int


@dataclass(frozen=True, slots=True)
class SlowDown:
    """The rule: `limit` failures are free; then waits from `base_s` doubling to `cap_s`;
    counts are forgotten after `window_s` without a failure or a wait."""

    limit: int = 5
    window_s: float = 15 * 60
    base_s: float = 1.0
    cap_s: float = 15 * 60
    max_keys: int = 10_000


class FailureCounts:
    """One kind of key (addresses or usernames): failures and waits, in bounded memory."""

    def __init__(self, rule: SlowDown) -> None:
        self._rule = rule
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def wait_ms(self, key: str, now_ms: int) -> int:
        """How long `key` must still wait before an attempt is checked (0: none)."""
        found = self._current(key, now_ms)
        return 0 if found is None else max(0, found.wait_until_ms - now_ms)

    def failed(self, key: str, now_ms: int) -> bool:
        """Count a failure; True when it is the one that starts the waits (a burst begins)."""
        found = self._current(key, now_ms) or _Failures(0, now_ms, 0)
        found.count += 1
        found.last_ms = now_ms
        over = found.count - self._rule.limit
        if over >= 0:
            wait_s = backoff_s(over, base_s=self._rule.base_s, cap_s=self._rule.cap_s)
            found.wait_until_ms = now_ms + round(wait_s * 1000)
        self._keys[key] = found
        self._keys.move_to_end(key)
        while len(self._keys) > self._rule.max_keys:
            self._keys.popitem(last=False)
        return over == 0

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)

    def _current(self, key: str, now_ms: int) -> _Failures | None:
        found = self._keys.get(key)
        if found is None:
            return None
        quiet_since = max(found.last_ms, found.wait_until_ms)
        if now_ms - quiet_since >= self._rule.window_s * 1000:
            del self._keys[key]
            return None
        return found


class SignInLimiter:
    """Checks an attempt before the password is (`check`), and hears how it went."""

    def __init__(self, rule: SlowDown | None = None, clock: Clock = wall_ms) -> None:
        self.rule = rule or SlowDown()
        self._clock = clock
        self._addresses = FailureCounts(self.rule)
        self._usernames = FailureCounts(self.rule)

    def check(self, address: str, username: str) -> None:
        """TooManyAttempts (with the seconds to wait) while either key must wait."""
        now = self._clock()
        wait_ms = max(self._addresses.wait_ms(address, now), self._usernames.wait_ms(username, now))
        if wait_ms > 0:
            raise TooManyAttempts(max(1, math.ceil(wait_ms / 1000)))

    def failed(self, address: str, username: str) -> None:
        now = self._clock()
        by_address = self._addresses.failed(address, now)
        by_username = self._usernames.failed(username, now)
        if by_address or by_username:
            # Once per burst: the failure that starts the waits. Never the password.
            logger.warning(
                "%d failed sign-ins %s (the last from %s for user %r): further attempts wait",
                self.rule.limit,
                "from this address" if by_address else "for this user",
                address,
                username,
            )

    def succeeded(self, username: str) -> None:
        self._usernames.clear(username)


class AuthThrottle:
    """Failed authentication per client address: `check` before credentials are looked at,
    `failed` after a wrong one. Logged once per burst (the failure that starts the waits)."""

    def __init__(self, rule: SlowDown | None = None, clock: Clock = wall_ms) -> None:
        self.rule = rule or SlowDown(limit=10, window_s=15 * 60, base_s=1.0, cap_s=5 * 60)
        self._clock = clock
        self._addresses = FailureCounts(self.rule)

    def check(self, address: str) -> None:
        """TooManyFailures (with the seconds to wait) while `address` must wait."""
        wait_ms = self._addresses.wait_ms(address, self._clock())
        if wait_ms > 0:
            raise TooManyFailures(max(1, math.ceil(wait_ms / 1000)))

    def failed(self, address: str, what: str) -> None:
        """Count a wrong credential from `address`; `what` names its kind for the log."""
        if self._addresses.failed(address, self._clock()):
            logger.warning(
                "%d failed authentications from %s (the last: %s): its requests wait from "
                "%g s, doubling to %g s, before credentials are checked again",
                self.rule.limit,
                address,
                what,
                self.rule.base_s,
                self.rule.cap_s,
            )

    @property
    def tracked(self) -> int:
        return len(self._addresses)
