"""CameraSegmenter with real files: pins across eviction, stalls, and a real ffmpeg run."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from segmenter import CameraSegmenter, SegmenterConfig, sidecar
from segmenter.camera import restart_delay
from segmenter.errors import ClipError
from segmenter.model import Segment
from tests.segmenter.segmenting import segment_file

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def seed(directory: Path, n: int) -> None:
    directory.mkdir(parents=True)
    for i in range(n):
        path = directory / f"seq-{i:09d}.ts"
        path.write_bytes(b"\x47" * 188)
        sidecar.append(
            directory, Segment("front", i, 1, T0 + i * 1000, T0 + i * 1000 + 1000, 188, path, True)
        )


async def test_pinned_files_survive_eviction_until_the_reader_is_done(tmp_path: Path) -> None:
    directory = tmp_path / "front"
    seed(directory, 6)
    clock = FakeClock(T0 + 6000)
    camera = CameraSegmenter(
        SegmenterConfig("front", "rtmp://unused", directory, buffer_ms=10_000), clock
    )
    assert await camera.recover() == 6
    async with camera.reader.reading(T0, T0 + 2000) as segments:
        assert [s.seq for s in segments] == [0, 1]
        clock.now = T0 + 13_500  # segments 0..3 expire
        await camera.evict()
        assert [s.seq for s in camera.index.segments] == [4, 5]
        remaining = sorted(p.name for p in directory.glob("*.ts"))
        assert remaining == [f"seq-{i:09d}.ts" for i in (0, 1, 4, 5)]
    remaining = sorted(p.name for p in directory.glob("*.ts"))
    assert remaining == [f"seq-{i:09d}.ts" for i in (4, 5)]


async def test_segments_are_read_whole_and_a_lost_file_is_a_clip_error(tmp_path: Path) -> None:
    directory = tmp_path / "front"
    seed(directory, 3)
    camera = CameraSegmenter(
        SegmenterConfig("front", "rtmp://unused", directory, buffer_ms=60_000), FakeClock(T0)
    )
    await camera.recover()
    assert await camera.read_segment(1) == b"\x47" * 188
    assert await camera.read_segment(7) is None
    (directory / "seq-000000001.ts").unlink()  # not by us: the index still holds it
    with pytest.raises(ClipError, match="cannot read segment 1"):
        await camera.read_segment(1)


async def test_recovery_evicts_what_expired_while_the_server_was_down(tmp_path: Path) -> None:
    directory = tmp_path / "front"
    seed(directory, 5)
    camera = CameraSegmenter(
        SegmenterConfig("front", "rtmp://unused", directory, buffer_ms=2_000), FakeClock(T0 + 5000)
    )
    await camera.recover()
    assert [s.seq for s in camera.index.segments] == [3, 4]
    assert len(list(directory.glob("*.ts"))) == 2


def test_restarts_back_off_by_doubling_and_a_fresh_publish_retries_fast() -> None:
    config = SegmenterConfig(
        "front", "rtmp://unused", Path("front"), backoff_min_s=0.5, backoff_max_s=30,
        fast_retry_s=0.2,
    )  # fmt: skip
    # Runs in a row without a segment; 0 is a run that produced some (the backoff resets).
    waits = [restart_delay(config, failures, after_publish=False) for failures in range(9)]
    assert waits == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert restart_delay(config, 8, after_publish=True) == 0.2
    assert restart_delay(config, 0, after_publish=True) == 0.2


async def test_a_stalled_ffmpeg_is_stopped_and_restarted(tmp_path: Path) -> None:
    fake = tmp_path / "silent-ffmpeg"
    # Stands in for an ffmpeg connected to a publisher that sends nothing: it never lists a
    # segment and never exits by itself.
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    fake.chmod(0o755)
    config = SegmenterConfig(
        "front", "rtmp://unused", tmp_path / "front", stall_timeout_s=0.3, ffmpeg=str(fake),
        backoff_min_s=0.05, backoff_max_s=0.05,
    )  # fmt: skip
    camera = CameraSegmenter(config)
    task = asyncio.create_task(camera.run())
    try:
        # A restart has no event to await (only stats() shows it): poll, bounded, so a loop
        # that never restarts fails here.
        async with asyncio.timeout(30):
            while camera.stats().restarts < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.02)  # polling interval
        stats = camera.stats()
        assert stats.restarts >= 2
        assert stats.last_exit is not None
        assert stats.last_exit.startswith("stalled: no segment for 0.3s")
        assert stats.segments == 0
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(15):  # a cancel the loop dropped would hang here
                await task
    assert camera.stats().pid is None


async def test_a_waiting_reader_is_woken_by_the_segment_the_writer_indexes(
    tmp_path: Path, ts_segments: list[Path]
) -> None:
    fake = tmp_path / "one-segment-ffmpeg"
    # Stands in for ffmpeg: writes one finished segment where it is told to, lists it on
    # stdout, then keeps pulling without another.
    fake.write_text(
        f"#!{sys.executable}\nimport shutil, sys, time\n"
        f"shutil.copy({str(ts_segments[0])!r}, sys.argv[-1] % 0)\n"
        "print('seq-000000000.ts,0.000000,1.000000', flush=True)\ntime.sleep(60)\n"
    )
    fake.chmod(0o755)
    config = SegmenterConfig("front", "rtmp://unused", tmp_path / "front", ffmpeg=str(fake))
    camera = CameraSegmenter(config, FakeClock(T0))
    await camera.recover()
    assert camera.stats().segments == 0
    task = asyncio.create_task(camera.run())
    try:
        # Only the writer's word can end this wait: its own timeout is an hour away.
        async with asyncio.timeout(30):
            assert await camera.wait_until(T0, timeout_s=3600)
        (segment,) = camera.recent(None)
        assert (segment.seq, segment.start_ms, segment.end_ms) == (0, T0 - 1000, T0)
        assert segment.keyframe_start
        assert segment.samples is not None
        assert [s.seq for s in camera.reader.index.segments] == [0]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(15):  # a cancel the loop dropped would hang here
                await task


async def test_real_ffmpeg_segments_are_indexed_and_recovered(
    tmp_path: Path, h264_file: Path
) -> None:
    config, camera = await segment_file(h264_file, tmp_path)
    segments = list(camera.index.segments)
    first_run = [s for s in segments if s.session == 1]
    assert len(first_run) >= 5
    assert all(s.keyframe_start for s in segments)
    assert [s.seq for s in segments] == list(range(len(segments)))
    again = CameraSegmenter(config)
    assert await again.recover() == len(segments)
    assert list(again.index.segments) == segments


async def test_snapshot_falls_back_to_the_previous_segment(
    tmp_path: Path, ts_segments: list[Path]
) -> None:
    directory = tmp_path / "front"
    directory.mkdir()
    good = directory / "seq-000000000.ts"
    good.write_bytes(ts_segments[0].read_bytes())
    broken = directory / "seq-000000001.ts"
    broken.write_bytes(b"\x47" + b"\x00" * 187 * 4)  # a TS sync byte, then nothing usable
    for seq, path in enumerate((good, broken)):
        sidecar.append(
            directory,
            Segment("front", seq, 1, T0 + seq * 1000, T0 + (seq + 1) * 1000,
                    path.stat().st_size, path, True),
        )  # fmt: skip
    camera = CameraSegmenter(
        SegmenterConfig("front", "rtmp://unused", directory, buffer_ms=60_000), FakeClock(T0)
    )
    await camera.recover()
    shot = await camera.snapshot()
    assert shot is not None
    segment, jpeg = shot
    assert segment.seq == 0
    assert jpeg[:2] == b"\xff\xd8"
    good.write_bytes(b"\x47" * 188)  # now neither decodes (the cache holds seq 0, not the newest)
    with pytest.raises(ClipError):
        await camera.snapshot()
