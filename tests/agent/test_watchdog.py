"""The watchdog under cancellation, on a real pipeline and a real GLib main loop thread.

A stop is: `stop()` (EOS, bounded wait), then the pipeline task is cancelled and must end.
The EOS notice and the cancellation reach the event loop at about the same time; a
cancellation that arrives while the notice is being handed over must not be lost (Python
3.11's `asyncio.wait_for` returns the result instead, and `run()` then parks for good).
"""

from __future__ import annotations

import asyncio

import pytest

from agent.errors import PipelineError
from agent.pipeline_run import Notice, PipelineRun
from agent.watchdog import PipelineRuntime

BOUND_S = 5.0  # bounded waits, far above any step: they turn a hang into a failure

# The runtime's element names (encoded, motion) on a tiny pipeline without encoder or network.
PIPELINE = (
    "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=25/1,format=I420 "
    "! tee name=t  t. ! queue ! identity name=encoded ! fakesink sync=false  "
    "t. ! queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
    "! videoconvert ! video/x-raw,format=GRAY8 "
    "! appsink name=motion emit-signals=true max-buffers=2 drop=true sync=false"
)


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
            async with asyncio.timeout(BOUND_S):
                await runtime.frames.get()  # streaming
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


@pytest.mark.anyio
async def test_a_pipeline_that_cannot_be_built_ends_run_without_restarts() -> None:
    runtime = PipelineRuntime("no-such-element ! fakesink", stall_seconds=30)
    try:
        async with asyncio.timeout(BOUND_S):
            with pytest.raises(PipelineError, match="cannot build the pipeline"):
                await runtime.run()
        assert runtime.restarts == 0
    finally:
        runtime.close()
