"""The agent's GStreamer runtime under cancellation, with a real GLib main loop thread.

A stop is: `stop()` (EOS, bounded wait), then the pipeline task is cancelled and must end.
The EOS notice and the cancellation reach the event loop at about the same time; a
cancellation that arrives while the notice is being handed over must not be lost (Python
3.11's `asyncio.wait_for` returns the result instead, and `run()` then parks for good).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator

import pytest

from agent.runtime import GLibLoop, Notice, PipelineRun, PipelineRuntime

BOUND_S = 5.0  # bounded waits, far above any step: they turn a hang into a failure

# The runtime's element names (encoded, motion) on a tiny pipeline without encoder or network.
PIPELINE = (
    "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=25/1,format=I420 "
    "! tee name=t  t. ! queue ! identity name=encoded ! fakesink sync=false  "
    "t. ! queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
    "! videoconvert ! video/x-raw,format=GRAY8 "
    "! appsink name=motion emit-signals=true max-buffers=2 drop=true sync=false"
)


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


@pytest.mark.anyio
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
async def test_watch_honours_a_cancellation_that_arrives_with_a_notice(turns: int) -> None:
    runtime = PipelineRuntime(PIPELINE, stall_seconds=30)
    # White box: `_watch` is where the notice and the cancellation meet.
    notices = runtime._notices
    run = PipelineRun(1, PIPELINE, lambda _cb: None, runtime.frames, notices)
    watch = asyncio.create_task(runtime._watch(run))
    for _ in range(3):  # event-loop turns, not time: the watch is waiting for a notice
        await asyncio.sleep(0)
    assert not watch.done()
    notices.put_nowait(Notice(1, "eos", "end of stream"))
    for _ in range(turns):
        await asyncio.sleep(0)
    if watch.cancel():  # not finished yet: the cancellation must win over the notice
        done, _ = await asyncio.wait([watch], timeout=BOUND_S)
        assert done
        assert watch.cancelled(), f"cancellation lost: _watch returned {watch.result()!r}"
    else:  # it had already taken the notice
        assert watch.result() == "eos: end of stream"


@pytest.mark.anyio
async def test_stop_then_cancel_ends_run_every_time() -> None:
    """The agent's stop, ten times, on a real pipeline: `run()` must end when cancelled."""
    for attempt in range(10):
        runtime = PipelineRuntime(PIPELINE, stall_seconds=30)
        task = asyncio.create_task(runtime.run(), name=f"pipeline {attempt}")
        try:
            await asyncio.wait_for(runtime.frames.get(), BOUND_S)  # streaming
            await runtime.stop()
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=BOUND_S)
            assert done, f"stop {attempt}: run() did not end after its cancellation"
            assert task.cancelled()
            assert runtime.status().state == "NULL"
            assert runtime.restarts == 0
        finally:
            task.cancel()
            await asyncio.wait([task], timeout=BOUND_S)
            runtime.close()
