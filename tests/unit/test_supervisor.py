"""Supervised loops: transient failures restart with backoff, fatal ones are reported."""

from __future__ import annotations

import asyncio

import pytest

from api.supervisor import HEALTHY_RUN_S, Supervisor, next_backoff

pytestmark = pytest.mark.anyio


class Flaky(Exception):
    pass


def test_backoff_doubles_caps_and_resets_after_a_healthy_run() -> None:
    assert next_backoff(0, 0.1, 0.5, 4) == 0.5
    assert next_backoff(0.5, 0.1, 0.5, 4) == 1.0
    assert next_backoff(4, 0.1, 0.5, 4) == 4
    assert next_backoff(4, HEALTHY_RUN_S, 0.5, 4) == 0.5


async def test_transient_failures_restart_and_fatal_ones_are_reported() -> None:
    fatal: list[tuple[str, str]] = []
    supervisor = Supervisor(lambda name, exc: fatal.append((name, str(exc))))
    runs = 0
    finished = asyncio.Event()

    async def flaky_then_fatal() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise Flaky(f"run {runs}")
        finished.set()
        raise RuntimeError("bug")

    supervisor.start("loop", flaky_then_fatal, transient=(Flaky,), backoff_min_s=0.01)
    await asyncio.wait_for(finished.wait(), 5)
    for _ in range(100):
        if not supervisor.healthy:
            break
        await asyncio.sleep(0.01)
    [health] = supervisor.health()
    assert runs == 3
    assert health.restarts == 2
    assert health.state == "dead"
    assert health.last_error == "RuntimeError: bug"
    assert fatal == [("loop", "bug")]
    await supervisor.aclose()


async def test_aclose_cancels_running_loops() -> None:
    supervisor = Supervisor()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    supervisor.start("forever", forever)
    await asyncio.sleep(0)
    await supervisor.aclose()
    assert cancelled.is_set()
    assert supervisor.healthy
    supervisor.start("x", forever)
    with pytest.raises(ValueError, match="already started"):
        supervisor.start("x", forever)
    await supervisor.aclose()


async def test_a_loop_that_returns_is_a_bug() -> None:
    seen: list[str] = []
    supervisor = Supervisor(lambda name, exc: seen.append(str(exc)))

    async def returns() -> None:
        return None

    supervisor.start("r", returns)
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    await supervisor.aclose()
    assert seen == ["loop returned; loops run until cancelled"]
