"""The GLib main loop thread: calls onto it, their cancellation, and its stop."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator

import pytest

from agent.glib import GLibLoop

BOUND_S = 5.0  # bounded waits, far above any step: they turn a hang into a failure


@pytest.fixture
def glib() -> Iterator[GLibLoop]:
    loop = GLibLoop()
    loop.start()
    yield loop
    loop.stop(BOUND_S)


@pytest.mark.anyio
async def test_call_returns_the_result_and_raises_the_error_of_fn(glib: GLibLoop) -> None:
    thread = await glib.call(lambda: threading.current_thread().name)
    assert thread == "glib"

    def fail() -> None:
        raise ValueError("on the GLib thread")

    with pytest.raises(ValueError, match="on the GLib thread"):
        await glib.call(fail)


@pytest.mark.anyio
async def test_a_cancelled_call_ends_at_once_and_fn_still_runs_once(glib: GLibLoop) -> None:
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    runs: list[int] = []

    def blocking() -> int:
        entered.set()
        release.wait(BOUND_S)
        runs.append(1)
        finished.set()
        return 7

    call = asyncio.create_task(glib.call(blocking))
    assert await asyncio.to_thread(entered.wait, BOUND_S)
    call.cancel()
    # The caller is not held by the busy GLib thread...
    done, _ = await asyncio.wait([call], timeout=BOUND_S)
    assert done
    assert call.cancelled()
    # ...and the late result, settled onto a cancelled future, breaks nothing.
    release.set()
    assert await asyncio.to_thread(finished.wait, BOUND_S)
    assert await glib.call(lambda: 42) == 42
    assert runs == [1]


def test_call_settled_after_its_event_loop_closed_is_dropped_quietly(
    glib: GLibLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    unhandled: list[object] = []  # PyGObject reports a callback's exception via sys.excepthook
    monkeypatch.setattr(sys, "excepthook", lambda *exc: unhandled.append(exc))
    entered, release = threading.Event(), threading.Event()

    def blocking() -> int:
        entered.set()
        release.wait(BOUND_S)
        return 7

    loop = asyncio.new_event_loop()
    call = loop.create_task(glib.call(blocking))
    loop.run_until_complete(asyncio.sleep(0))  # one turn: call() has queued `blocking`
    assert entered.wait(BOUND_S)
    call.cancel()
    loop.run_until_complete(asyncio.gather(call, return_exceptions=True))
    loop.close()  # as at the agent's exit, while the GLib thread is still busy
    release.set()
    # A second call is dispatched after the first has settled (or failed to).
    assert asyncio.run(glib.call(lambda: 1)) == 1
    assert unhandled == []


@pytest.mark.anyio
async def test_stop_lets_the_calls_already_queued_run_first() -> None:
    glib = GLibLoop()
    glib.start()
    entered, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def first() -> None:
        entered.set()
        release.wait(BOUND_S)
        ran.append("first")

    try:
        first_call = asyncio.create_task(glib.call(first))
        assert await asyncio.to_thread(entered.wait, BOUND_S)
        second_call = asyncio.create_task(glib.call(lambda: ran.append("second")))
        await asyncio.sleep(0)  # one turn: the second call is queued behind the busy first
        glib.stop(0)  # the agent's exit (a teardown still queued); no join here
        release.set()
        await asyncio.wait([first_call, second_call], timeout=BOUND_S)
        assert ran == ["first", "second"]
    finally:
        release.set()
        glib.stop(BOUND_S)
