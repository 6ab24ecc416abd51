"""The server's claim on its state: private modes whatever the umask, one server per state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from api.config import Settings
from api.private import LOCK_NAME, InUse, UnsafePath
from api.state import claim_state
from api.video.cachedir import file_name
from tests.api.conftest import serve
from tests.api.fakes import FakeBuffer
from tests.conftest import mode

pytestmark = pytest.mark.anyio


def database_of(settings: Settings, file_mode: int) -> Path:
    """The SQLite file of `settings`, given `file_mode` (as an earlier version left it)."""
    database = Path(settings.database.removeprefix("sqlite+aiosqlite:///"))
    database.chmod(file_mode)
    return database


@pytest.mark.usefixtures("umask_022")
async def test_state_is_private_whatever_the_umask(tier_settings: Settings) -> None:
    database = database_of(tier_settings, 0o644)
    async with serve(tier_settings) as server:
        assert (await server.client.get("/healthz")).status_code == 200
        for directory in (
            tier_settings.data_dir,
            tier_settings.buffer_dir,
            tier_settings.clip_dir,
            tier_settings.media_root,
        ):
            assert mode(directory) == 0o700, directory
        for file in (database, tier_settings.vapid_key_file):
            assert mode(file) == 0o600, file
        wal = database.with_name(database.name + "-wal")
        if wal.exists():
            assert mode(wal) == 0o600


async def test_a_second_server_on_the_same_state_is_refused(tier_settings: Settings) -> None:
    async with serve(tier_settings) as server:
        cached = tier_settings.clip_dir / file_name("front-1-2.mp4")
        cached.write_bytes(b"the first server's clip")
        second = create_app(
            tier_settings, buffers={"front": FakeBuffer(first_ms=0, newest_ms=1000)}
        )
        with pytest.raises(InUse) as refused:
            async with LifespanManager(second):
                pass
        assert refused.value.pid == os.getpid()
        assert refused.value.directory == tier_settings.data_dir.absolute()
        # Nothing of the first server's was touched: its cache, its answers.
        assert cached.read_bytes() == b"the first server's clip"
        assert (await server.client.get("/healthz")).status_code == 200
    # The first one stopped: its locks went with it.
    claim = claim_state(tier_settings)
    claim.release()


async def test_a_shared_buffer_is_refused_even_with_another_data_dir(
    tier_settings: Settings, tmp_path: Path
) -> None:
    other = tier_settings.model_copy(update={"data_dir": tmp_path / "other-data"})
    async with serve(tier_settings):
        with pytest.raises(InUse) as refused:
            claim_state(other)
        assert refused.value.directory == tier_settings.buffer_dir.absolute()
        assert refused.value.lock == tier_settings.buffer_dir.absolute() / LOCK_NAME
    # The refused claim let go of the data directory it had locked first.
    claim_state(other).release()


def test_a_shared_media_directory_of_its_own_is_locked_too(
    tier_settings: Settings, tmp_path: Path
) -> None:
    media = tmp_path / "media-elsewhere"
    first = tier_settings.model_copy(update={"media_dir": media})
    second = first.model_copy(
        update={"data_dir": tmp_path / "data-2", "buffer_dir": tmp_path / "buffer-2"}
    )
    claim = claim_state(first)
    try:
        with pytest.raises(InUse) as refused:
            claim_state(second)
        assert refused.value.directory == media
    finally:
        claim.release()


def test_a_buffer_directory_of_someone_else_is_refused(
    tier_settings: Settings, tmp_path: Path
) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    planted.chmod(0o777)  # made by another local user for us to write the video into
    settings = tier_settings.model_copy(update={"buffer_dir": planted})
    with pytest.raises(UnsafePath, match="planted is writable by group or others"):
        claim_state(settings)
    assert list(planted.iterdir()) == []
