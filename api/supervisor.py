"""Supervised background loops: each kept, restarted on transient failure with capped
backoff, reported by /healthz, and fatal failures surfaced (the process then ends)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from common.clock import Clock, wall_ms
from common.retry import backoff_s

logger = logging.getLogger(__name__)

LoopFactory = Callable[[], Awaitable[None]]
FatalHandler = Callable[[str, BaseException], None]

# A loop that ran at least this long before failing starts again from the smallest backoff.
HEALTHY_RUN_S = 60.0


@dataclass(slots=True)
class LoopHealth:
    """What /healthz says of one loop."""

    name: str
    state: str = "starting"  # running | backoff | dead
    restarts: int = 0
    last_error: str | None = None
    since_ms: int = 0


class Supervisor:
    """Owns background tasks. `aclose()` cancels and reaps them all."""

    def __init__(
        self,
        on_fatal: FatalHandler | None = None,
        *,
        healthy_run_s: float = HEALTHY_RUN_S,
        clock: Clock = wall_ms,
    ) -> None:
        self._on_fatal = on_fatal
        self._healthy_run_s = healthy_run_s
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._health: dict[str, LoopHealth] = {}

    def start(
        self,
        name: str,
        factory: LoopFactory,
        *,
        transient: tuple[type[BaseException], ...] = (),
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        """Run `factory()` under supervision. Exceptions in `transient` restart it; any other
        exception (or a bug) marks it dead and calls the fatal handler."""
        if name in self._tasks:
            raise ValueError(f"loop {name!r} already started")
        health = self._health[name] = LoopHealth(name, since_ms=self._clock())
        self._tasks[name] = asyncio.create_task(
            self._supervise(health, factory, transient, backoff_min_s, backoff_max_s), name=name
        )

    def health(self) -> list[LoopHealth]:
        return list(self._health.values())

    @property
    def healthy(self) -> bool:
        return all(h.state != "dead" for h in self._health.values())

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _supervise(
        self,
        health: LoopHealth,
        factory: LoopFactory,
        transient: tuple[type[BaseException], ...],
        backoff_min_s: float,
        backoff_max_s: float,
    ) -> None:
        failures = 0  # in a row; a healthy run starts the count again
        while True:
            started = time.monotonic()
            self._set(health, "running")
            try:
                await factory()
                raise RuntimeError("loop returned; loops run until cancelled")  # noqa: TRY301
            except asyncio.CancelledError:
                raise
            except transient as exc:
                if time.monotonic() - started >= self._healthy_run_s:
                    failures = 0
                backoff = backoff_s(failures, base_s=backoff_min_s, cap_s=backoff_max_s)
                failures += 1
                health.restarts += 1
                health.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "%s failed (%s); restart %d in %.1fs",
                    health.name,
                    exc,
                    health.restarts,
                    backoff,
                )
                self._set(health, "backoff")
                await asyncio.sleep(backoff)  # the restart backoff itself
            except Exception as exc:
                health.last_error = f"{type(exc).__name__}: {exc}"
                self._set(health, "dead")
                logger.exception("%s died; it will not be restarted", health.name)
                if self._on_fatal is not None:
                    self._on_fatal(health.name, exc)
                return

    def _set(self, health: LoopHealth, state: str) -> None:
        health.state = state
        health.since_ms = self._clock()
