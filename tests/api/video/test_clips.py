"""ClipService: bounded slots and queue (then 503), one shared assembly, a pruned cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest

from api.errors import ClipsBusy
from api.http.ranges import WholeFile
from api.video.clips import ClipService
from common.media import ClipFormat
from tests.api.fakes import FakeBuffer, FakePlan

pytestmark = pytest.mark.anyio


def Plan(key: str) -> FakePlan:
    return FakePlan(key, 0, 1000)


class GatedBuffer(FakeBuffer):
    """Assembles only when `gate` opens; counts what it was asked to do."""

    def __init__(self) -> None:
        super().__init__(first_ms=0, newest_ms=10_000)
        self.gate = asyncio.Event()
        self.assembled: list[str] = []

    async def assemble(self, plan: FakePlan, fmt: ClipFormat, out: Path) -> WholeFile:
        await self.gate.wait()
        self.assembled.append(plan.key)
        await asyncio.to_thread(out.write_bytes, plan.key.encode() * 10)
        return WholeFile(10 * len(plan.key))

    async def stream_fmp4(self, plan: FakePlan) -> AsyncIterator[bytes]:
        await self.gate.wait()
        yield b"chunk"


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_bound_then_queue_then_busy(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=2, queue=3, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    tasks = [asyncio.create_task(service.assembled(buffer, Plan(f"c{i}"), "mp4")) for i in range(5)]
    await settle()
    assert service.stats()["running"] == 2
    assert service.stats()["waiting"] == 3
    with pytest.raises(ClipsBusy) as info:
        await service.assembled(buffer, Plan("c5"), "mp4")
    assert info.value.retry_after_s >= 1
    buffer.gate.set()
    clips = await asyncio.gather(*tasks)
    assert sorted(buffer.assembled) == [f"c{i}" for i in range(5)]
    assert service.peak_running == 2
    assert all(c.path.read_bytes() == f"c{i}".encode() * 10 for i, c in enumerate(clips))
    await service.aclose()


async def test_identical_requests_share_one_assembly_and_repeats_hit_the_cache(
    tmp_path: Path,
) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    same = [asyncio.create_task(service.assembled(buffer, Plan("x"), "mp4")) for _ in range(5)]
    await settle()
    buffer.gate.set()
    clips = await asyncio.gather(*same)
    assert buffer.assembled == ["x"]
    assert len({c.path for c in clips}) == 1
    again = await service.assembled(buffer, Plan("x"), "mp4")
    assert again == clips[0]
    assert service.assemblies == 1
    # Another format of the same segments is another file.
    await service.assembled(buffer, Plan("x"), "zip")
    assert buffer.assembled == ["x", "x"]
    await service.aclose()


async def test_a_waiter_going_away_does_not_cancel_the_shared_assembly(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=1, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    first = asyncio.create_task(service.assembled(buffer, Plan("x"), "mp4"))
    second = asyncio.create_task(service.assembled(buffer, Plan("x"), "mp4"))
    await settle()
    first.cancel()
    buffer.gate.set()
    clip = await second
    assert clip.path.exists()
    await service.aclose()


async def test_cache_is_pruned_by_bytes_but_never_before_a_response_opens_it(
    tmp_path: Path,
) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=0, max_bytes=25)
    await service.start()
    buffer = GatedBuffer()
    buffer.gate.set()
    fresh = await service.assembled(buffer, Plan("f"), "mp4")
    await service.assembled(buffer, Plan("g"), "mp4")
    assert fresh.path.exists(), "a TTL of 0 must not delete a clip before it is sent"
    await service.aclose()
    service = ClipService(
        tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=25, fresh_s=0.0
    )
    await service.start()
    buffer = GatedBuffer()
    buffer.gate.set()
    a = await service.assembled(buffer, Plan("a"), "mp4")
    b = await service.assembled(buffer, Plan("b"), "mp4")
    c = await service.assembled(buffer, Plan("c"), "mp4")
    assert not a.path.exists()  # 3 x 10 bytes > 25: the oldest went
    assert b.path.exists()
    assert c.path.exists()
    assert service.stats()["cached"] == 2
    await service.aclose()
    assert list((tmp_path / "cache").iterdir()) == []  # its own files went, and only those


async def test_streams_are_admitted_before_they_start(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    first = service.stream(buffer, Plan("s"))

    async def first_chunk() -> bytes:
        return await anext(first)

    pending = asyncio.create_task(first_chunk())
    await settle()
    with pytest.raises(ClipsBusy):
        service.stream(buffer, Plan("t"))
    buffer.gate.set()
    assert await pending == b"chunk"
    assert isinstance(first, AsyncGenerator)
    await first.aclose()
    await service.aclose()
