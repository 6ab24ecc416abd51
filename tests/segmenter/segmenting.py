"""The real segmenter fed from a file, for tests: 6 s of FLV (as the relay would send it)
through `CameraSegmenter.run()` and ffmpeg, stopped once enough segments are indexed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from segmenter import CameraSegmenter, SegmenterConfig
from tests.conftest import require_binary


async def segment_file(
    h264_file: Path, work: Path, count: int = 5
) -> tuple[SegmenterConfig, CameraSegmenter]:
    """Segment 6 s of `h264_file`; return once `count` segments are indexed and the loop is
    cancelled (both bounded: a hang fails the test)."""
    ffmpeg = require_binary("ffmpeg")
    flv = work / "in.flv"
    proc = await asyncio.create_subprocess_exec(
        ffmpeg, "-v", "error", "-framerate", "25", "-i", str(h264_file), "-t", "6",
        "-c", "copy", "-f", "flv", str(flv),
    )  # fmt: skip
    async with asyncio.timeout(60):
        assert await proc.wait() == 0
    config = SegmenterConfig("front", str(flv), work / "front", ffmpeg=ffmpeg)
    camera = CameraSegmenter(config)
    task = asyncio.create_task(camera.run())
    try:
        async with asyncio.timeout(30):
            await camera.wait_first_segment()
            # A file source runs faster than real time: the rest come within moments, each
            # one waking this wait (its own timeout is never what ends it).
            while len(camera.index) < count:
                newest = camera.index.newest
                assert newest is not None
                await camera.wait_until(newest.end_ms + 1, 3600)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(15):  # a cancel the loop dropped would hang here
                await task
    return config, camera
