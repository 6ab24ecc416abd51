"""ClipService: bounded slots and queue (then 503), one shared assembly, a pruned cache."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest

from api.errors import BadRequest, ClipCacheFull, ClipsBusy
from api.http.ranges import WholeFile
from api.video.clips import ClipService, expected_bytes
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


class SizedBuffer(FakeBuffer):
    """Assembles at once a file of the plan's `source_bytes`; tracks the cache's peak use."""

    def __init__(self, cache: Path) -> None:
        super().__init__(first_ms=0, newest_ms=10_000)
        self.cache = cache
        self.peak_bytes = 0

    async def assemble(self, plan: FakePlan, fmt: ClipFormat, out: Path) -> WholeFile:
        await asyncio.to_thread(out.write_bytes, bytes(plan.source_bytes))
        self.peak_bytes = max(self.peak_bytes, _bytes_in(self.cache))
        return WholeFile(plan.source_bytes)


def _bytes_in(directory: Path) -> int:
    """The bytes of the files in `directory` now; a file renamed meanwhile (another clip's
    `.part` becoming the clip, in its own thread) is counted under the name it has next."""
    total = 0
    for entry in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            total += entry.stat().st_size
    return total


MIB = 1024 * 1024


def Sized(key: str, size: int = MIB) -> FakePlan:
    return FakePlan(key, 0, 1000, (), size)


async def test_cache_is_pruned_by_bytes_but_never_before_a_response_opens_it(
    tmp_path: Path,
) -> None:
    # Each clip is 1 MiB and reserves 1 MiB + 1/16 + 64 KiB while it is made.
    cache = tmp_path / "cache"
    service = ClipService(cache, concurrency=1, queue=0, ttl_s=0, max_bytes=5 * MIB // 2)
    await service.start()
    buffer = SizedBuffer(cache)
    fresh = await service.assembled(buffer, Sized("f"), "mp4")
    await service.assembled(buffer, Sized("g"), "mp4")
    assert fresh.path.exists(), "a TTL of 0 must not delete a clip before it is sent"
    await service.aclose()
    service = ClipService(
        cache, concurrency=1, queue=0, ttl_s=60, max_bytes=5 * MIB // 2, fresh_s=0.0
    )
    await service.start()
    a = await service.assembled(buffer, Sized("a"), "mp4")
    b = await service.assembled(buffer, Sized("b"), "mp4")
    c = await service.assembled(buffer, Sized("c"), "mp4")
    assert not a.path.exists()  # 2 MiB cached + 1.125 MiB reserved > 2.5 MiB: the oldest went
    assert b.path.exists()
    assert c.path.exists()
    assert service.stats()["cached"] == 2
    await service.aclose()
    assert list((tmp_path / "cache").iterdir()) == []  # its own files went, and only those


async def test_the_cache_is_held_to_its_cap_at_admission(tmp_path: Path) -> None:
    """The old cache grew to 818 MiB under a 30 MiB cap: fresh entries were never pruned
    and nothing was reserved before assembling. Now every clip's bytes are reserved first;
    when they cannot fit, 503 with Retry-After, and the files never exceed the cap."""
    cache = tmp_path / "cache"
    cap = 30 * MIB
    service = ClipService(cache, concurrency=4, queue=100, ttl_s=60, max_bytes=cap)
    await service.start()
    buffer = SizedBuffer(cache)
    results = await asyncio.gather(
        *(service.assembled(buffer, Sized(f"c{i}", 4 * MIB), "mp4") for i in range(60)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ClipCacheFull)]
    assert len(made) + len(refused) == 60, results
    # 4 MiB + 1/16 + 64 KiB reserved each: 6 fit in 30 MiB.
    assert len(made) == cap // expected_bytes(4 * MIB) == 6
    assert buffer.peak_bytes <= cap
    assert all(r.retry_after_s >= 1 for r in refused)
    assert service.stats()["reserved_bytes"] == 0
    await service.aclose()


async def test_a_clip_that_can_never_fit_is_refused_with_the_way_out(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "c", concurrency=1, queue=0, ttl_s=60, max_bytes=MIB)
    await service.start()
    with pytest.raises(BadRequest) as refused:
        await service.assembled(SizedBuffer(tmp_path / "c"), Sized("big", MIB), "mp4")
    assert (refused.value.parameter, refused.value.allowed) == ("format", ["fmp4"])
    assert service.stats()["reserved_bytes"] == 0
    await service.aclose()


async def test_admission_is_exact_under_concurrency(tmp_path: Path) -> None:
    """50 distinct clips asked at once with 2 slots and 8 queue places: exactly 10 admitted
    (the old check-then-register let 15 in), the other 40 refused with 503."""
    service = ClipService(tmp_path / "cache", concurrency=2, queue=8, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    tasks = [
        asyncio.create_task(service.assembled(buffer, Plan(f"c{i}"), "mp4")) for i in range(50)
    ]
    await settle()
    busy = [t for t in tasks if t.done() and isinstance(t.exception(), ClipsBusy)]
    assert len(busy) == 40
    buffer.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert len(buffer.assembled) == 10
    assert sum(isinstance(r, ClipsBusy) for r in results) == 40
    assert service.peak_running == 2
    assert service.stats()["running"] + service.stats()["waiting"] == 0
    await service.aclose()


async def test_a_stream_admission_is_given_back_even_if_it_never_started(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    never_read = service.stream(buffer, Plan("s"))
    with pytest.raises(ClipsBusy):
        service.stream(buffer, Plan("t"))
    never_read.release()  # what the response does when the client left before the body
    never_read.release()  # once only
    buffer.gate.set()
    again = service.stream(buffer, Plan("t"))
    assert [chunk async for chunk in again.chunks] == [b"chunk"]
    service.stream(buffer, Plan("u")).release()  # the finished stream gave its place back
    await service.aclose()


async def test_streams_are_admitted_before_they_start(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    first = service.stream(buffer, Plan("s")).chunks

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
