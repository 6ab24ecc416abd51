"""The clip cache deletes only what it made, and refuses a directory holding anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.private import UnsafePath
from api.video.cachedir import file_name, is_own
from api.video.clips import ClipService

pytestmark = pytest.mark.anyio


def cache(directory: Path) -> ClipService:
    return ClipService(directory, concurrency=1, queue=0, ttl_s=60, max_bytes=10**9)


def test_the_cache_knows_its_own_names() -> None:
    assert is_own(file_name("front-1-9.mp4"))
    assert is_own(file_name("front-1-9.mp4", part=True))
    assert not is_own("front-1-9.mp4")
    assert not is_own("holiday.mp4")


async def test_a_directory_with_foreign_files_is_refused_and_they_survive(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "videos"
    directory.mkdir()
    (directory / "holiday.mp4").write_bytes(b"mine")
    (directory / "notes").mkdir()
    service = cache(directory)
    with pytest.raises(UnsafePath, match=r"holds 2 entries the clip cache did not make"):
        await service.start()
    assert (directory / "holiday.mp4").read_bytes() == b"mine"
    assert (directory / "notes").is_dir()


async def test_start_and_stop_delete_the_caches_files_and_nothing_else(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    stale = directory / file_name("front-1-2.mp4")
    stale.write_bytes(b"from a run that crashed")
    service = cache(directory)
    await service.start()
    assert not stale.exists()
    # Something put there while the server runs is not the cache's to delete either.
    (directory / "holiday.mp4").write_bytes(b"mine")
    (directory / file_name("front-3-4.zip")).write_bytes(b"a clip")
    await service.aclose()
    assert [p.name for p in directory.iterdir()] == ["holiday.mp4"]
