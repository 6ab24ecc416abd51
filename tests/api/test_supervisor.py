"""Supervised loops: transient failures restart with backoff, fatal ones are reported."""

from __future__ import annotations

import asyncio

import pytest

from api.supervisor import Supervisor

pytestmark = pytest.mark.anyio


class Flaky(Exception):
    pass


async def test_transient_failures_restart_and_fatal_ones_are_reported() -> None:
    fatal: list[tuple[str, str]] = []
    reported = asyncio.Event()

    def on_fatal(name: str, exc: BaseException) -> None:
        fatal.append((name, str(exc)))
        reported.set()

    supervisor = Supervisor(on_fatal)
    runs = 0

    async def flaky_then_fatal() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise Flaky(f"run {runs}")
        raise RuntimeError("bug")

    supervisor.start("loop", flaky_then_fatal, transient=(Flaky,), backoff_min_s=0.01)
    async with asyncio.timeout(10):
        await reported.wait()
    assert not supervisor.healthy
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

    started = asyncio.Event()

    async def forever_started() -> None:
        started.set()
        await forever()

    supervisor.start("forever", forever_started)
    async with asyncio.timeout(10):
        await started.wait()
    await supervisor.aclose()
    assert cancelled.is_set()
    assert supervisor.healthy
    supervisor.start("x", forever)
    with pytest.raises(ValueError, match="already started"):
        supervisor.start("x", forever)
    await supervisor.aclose()


async def test_a_loop_that_returns_is_a_bug() -> None:
    seen: list[str] = []
    reported = asyncio.Event()

    def on_fatal(name: str, exc: BaseException) -> None:
        seen.append(str(exc))
        reported.set()

    supervisor = Supervisor(on_fatal)

    async def returns() -> None:
        return None

    supervisor.start("r", returns)
    async with asyncio.timeout(10):
        await reported.wait()
    await supervisor.aclose()
    assert seen == ["loop returned; loops run until cancelled"]


async def test_each_transient_failure_is_one_restart_stamped_by_the_given_clock() -> None:
    supervisor = Supervisor(healthy_run_s=0.0, clock=lambda: 42)
    runs = 0
    done = asyncio.Event()

    async def fails_five_times() -> None:
        nonlocal runs
        runs += 1
        if runs == 6:
            done.set()
            await asyncio.Event().wait()
        raise Flaky("again")

    supervisor.start("loop", fails_five_times, transient=(Flaky,), backoff_min_s=0.01,
                     backoff_max_s=600)  # fmt: skip
    async with asyncio.timeout(30):
        await done.wait()
    [health] = supervisor.health()
    assert (health.restarts, health.state, health.since_ms) == (5, "running", 42)
    await supervisor.aclose()
