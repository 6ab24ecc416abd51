"""ClipService: bounded slots and queue (then 503), one shared assembly, a pruned cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from api.clips import ClipService
from api.errors import ClipsBusy
from api.ports import ClipFormat
from segmenter.formats.faststart import Layout

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Plan:
    key: str
    start_ms: int = 0
    end_ms: int = 1000
    gaps: Sequence[object] = ()


@dataclass
class GatedBuffer:
    """Assembles only when `gate` opens; counts what it was asked to do."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    assembled: list[str] = field(default_factory=list)

    async def assemble(self, plan: Plan, fmt: ClipFormat, out: Path) -> Layout:
        await self.gate.wait()
        self.assembled.append(plan.key)
        out.write_bytes(plan.key.encode() * 10)  # noqa: ASYNC240 (tiny, in a test fake)
        return Layout.whole(10 * len(plan.key))

    async def stream_fmp4(self, plan: Plan) -> AsyncIterator[bytes]:
        await self.gate.wait()
        yield b"chunk"


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_bound_then_queue_then_busy(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=2, queue=3, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    tasks = [asyncio.create_task(service.file(buffer, Plan(f"c{i}"), "mp4")) for i in range(5)]  # type: ignore[arg-type]
    await settle()
    assert service.stats()["running"] == 2
    assert service.stats()["waiting"] == 3
    with pytest.raises(ClipsBusy) as info:
        await service.file(buffer, Plan("c5"), "mp4")  # type: ignore[arg-type]
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
    same = [asyncio.create_task(service.file(buffer, Plan("x"), "mp4")) for _ in range(5)]  # type: ignore[arg-type]
    await settle()
    buffer.gate.set()
    clips = await asyncio.gather(*same)
    assert buffer.assembled == ["x"]
    assert len({c.path for c in clips}) == 1
    again = await service.file(buffer, Plan("x"), "mp4")  # type: ignore[arg-type]
    assert again == clips[0]
    assert service.assemblies == 1
    # Another format of the same segments is another file.
    await service.file(buffer, Plan("x"), "zip")  # type: ignore[arg-type]
    assert buffer.assembled == ["x", "x"]
    await service.aclose()


async def test_a_waiter_going_away_does_not_cancel_the_shared_assembly(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=1, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    first = asyncio.create_task(service.file(buffer, Plan("x"), "mp4"))  # type: ignore[arg-type]
    second = asyncio.create_task(service.file(buffer, Plan("x"), "mp4"))  # type: ignore[arg-type]
    await settle()
    first.cancel()
    buffer.gate.set()
    clip = await second
    assert clip.path.exists()
    await service.aclose()


async def test_cache_is_pruned_by_bytes_but_never_before_a_response_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=0, max_bytes=25)
    await service.start()
    buffer = GatedBuffer()
    buffer.gate.set()
    fresh = await service.file(buffer, Plan("f"), "mp4")  # type: ignore[arg-type]
    await service.file(buffer, Plan("g"), "mp4")  # type: ignore[arg-type]
    assert fresh.path.exists(), "a TTL of 0 must not delete a clip before it is sent"
    await service.aclose()
    monkeypatch.setattr("api.clips.FRESH_S", 0.0)
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=25)
    await service.start()
    buffer = GatedBuffer()
    buffer.gate.set()
    a = await service.file(buffer, Plan("a"), "mp4")  # type: ignore[arg-type]
    b = await service.file(buffer, Plan("b"), "mp4")  # type: ignore[arg-type]
    c = await service.file(buffer, Plan("c"), "mp4")  # type: ignore[arg-type]
    assert not a.path.exists()  # 3 x 10 bytes > 25: the oldest went
    assert b.path.exists()
    assert c.path.exists()
    assert service.stats()["cached"] == 2
    await service.aclose()
    assert not (tmp_path / "cache").exists()


async def test_streams_are_admitted_before_they_start(tmp_path: Path) -> None:
    service = ClipService(tmp_path / "cache", concurrency=1, queue=0, ttl_s=60, max_bytes=10**9)
    await service.start()
    buffer = GatedBuffer()
    first = service.stream(buffer, Plan("s"))  # type: ignore[arg-type]
    pending = asyncio.create_task(anext(first))
    await settle()
    with pytest.raises(ClipsBusy):
        service.stream(buffer, Plan("t"))  # type: ignore[arg-type]
    buffer.gate.set()
    assert await pending == b"chunk"
    await first.aclose()  # type: ignore[attr-defined]
    await service.aclose()
