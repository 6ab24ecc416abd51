"""A pipeline run: descriptions it cannot run, and its hand-over helpers (the GRAY8 copy out
of a mapped buffer, the bounded queue that drops its oldest entry)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from agent.errors import PipelineError
from agent.pipeline_run import Frame, Notice, PipelineRun, copy_gray8, put_dropping_oldest


def test_copy_gray8_respects_the_row_stride() -> None:
    width, height, stride = 6, 3, 8
    padded = np.arange(stride * height, dtype=np.uint8).reshape(height, stride)
    frame = copy_gray8(padded.tobytes(), width, height)
    assert frame.shape == (3, 6)
    assert frame.flags["C_CONTIGUOUS"]
    assert (frame == padded[:, :6]).all()
    with pytest.raises(ValueError, match="cannot hold"):
        copy_gray8(b"\0" * 10, 6, 3)


@pytest.mark.anyio
async def test_full_queue_drops_the_oldest() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(2)
    assert not put_dropping_oldest(queue, 1)
    assert not put_dropping_oldest(queue, 2)
    assert put_dropping_oldest(queue, 3)
    assert [queue.get_nowait(), queue.get_nowait()] == [2, 3]


@pytest.mark.parametrize(
    ("description", "complaint"),
    [
        ("no-such-element ! fakesink", "cannot build the pipeline: no element"),
        ("fakesrc", "one element, not a pipeline"),
        ("videotestsrc ! fakesink", "no element named 'motion'"),
        ("videotestsrc ! appsink name=motion  videotestsrc ! fakesink name=encoded", "no src pad"),
    ],
)
def test_a_description_the_run_cannot_use_is_a_pipeline_error(
    description: str, complaint: str
) -> None:
    frames: asyncio.Queue[Frame] = asyncio.Queue(1)
    notices: asyncio.Queue[Notice] = asyncio.Queue(1)
    run = PipelineRun(1, description, lambda _callback: None, frames, notices)
    try:
        with pytest.raises(PipelineError, match=complaint):
            run.start()
    finally:
        run.teardown()
    assert run.state == "NULL"
