"""Private state directories and files, and the lock that keeps a directory to one process."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from api.private import (
    LOCK_NAME,
    DirLock,
    InUse,
    UnsafePath,
    ancestor_problem,
    dir_problem,
    private_dir,
    private_file,
    write_private,
)
from tests.conftest import mode

ME = os.geteuid()


def fake_stat(mode: int, uid: int = ME) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


def test_a_directory_of_someone_else_is_refused() -> None:
    assert dir_problem(fake_stat(stat.S_IFDIR | 0o700), ME) is None
    other = dir_problem(fake_stat(stat.S_IFDIR | 0o700, uid=ME + 1), ME)
    assert other is not None
    assert f"uid {ME + 1}" in other
    assert "writable by group or others" in (dir_problem(fake_stat(stat.S_IFDIR | 0o770), ME) or "")
    assert "writable by group or others" in (dir_problem(fake_stat(stat.S_IFDIR | 0o703), ME) or "")
    assert dir_problem(fake_stat(stat.S_IFLNK | 0o777), ME) == "is a symbolic link"
    assert dir_problem(fake_stat(stat.S_IFREG | 0o600), ME) == "is not a directory"


def test_ancestors_are_root_or_ours_and_world_writable_only_when_sticky() -> None:
    assert ancestor_problem(fake_stat(stat.S_IFDIR | 0o1777, uid=0), ME) is None  # /dev/shm
    assert ancestor_problem(fake_stat(stat.S_IFDIR | 0o755, uid=0), ME) is None
    assert ancestor_problem(fake_stat(stat.S_IFDIR | 0o777, uid=0), ME) is not None
    assert ancestor_problem(fake_stat(stat.S_IFDIR | 0o755, uid=ME + 7), ME) is not None


@pytest.mark.usefixtures("umask_022")
def test_directories_are_made_0700_whatever_the_umask(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b" / "c")
    assert made == tmp_path / "a" / "b" / "c"
    for directory in (tmp_path / "a", tmp_path / "a" / "b", made):
        assert mode(directory) == 0o700


@pytest.mark.usefixtures("umask_022")
def test_an_existing_readable_directory_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir(mode=0o755)
    private_dir(tmp_path / "old")
    assert mode(tmp_path / "old") == 0o700


def test_a_link_or_a_shared_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePath, match="link is a symbolic link"):
        private_dir(tmp_path / "link")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafePath, match="writable by group or others"):
        private_dir(shared)
    assert mode(shared) == 0o777  # refused, not changed


def test_a_world_writable_parent_without_sticky_bit_is_refused(tmp_path: Path) -> None:
    # What a local user could do in it: rename our directory away and put theirs in its place.
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o777)
    with pytest.raises(UnsafePath, match="writable by everyone without the sticky bit"):
        private_dir(drop / "buffer")
    assert not (drop / "buffer").exists()
    drop.chmod(0o1777)  # as /tmp and /dev/shm
    assert mode(private_dir(drop / "buffer")) == 0o700


@pytest.mark.usefixtures("umask_022")
def test_files_are_0600(tmp_path: Path) -> None:
    private_file(tmp_path / "new.db")
    assert mode(tmp_path / "new.db") == 0o600
    (tmp_path / "old.db").write_bytes(b"x")
    assert mode(tmp_path / "old.db") == 0o644
    private_file(tmp_path / "old.db")
    assert mode(tmp_path / "old.db") == 0o600
    private_file(tmp_path / "absent-wal", create=False)
    assert not (tmp_path / "absent-wal").exists()
    (tmp_path / "link.db").symlink_to(tmp_path / "old.db")
    with pytest.raises(UnsafePath, match="link is not followed"):
        private_file(tmp_path / "link.db")


@pytest.mark.usefixtures("umask_022")
def test_write_private_replaces_a_readable_file_with_a_0600_one(tmp_path: Path) -> None:
    config = tmp_path / "doorbell.toml"
    config.write_text("old\n")
    config.chmod(0o644)
    write_private(config, "new\n")
    assert config.read_text() == "new\n"
    assert mode(config) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["doorbell.toml"]  # no temporary left


def test_a_locked_directory_names_the_process_that_holds_it(tmp_path: Path) -> None:
    first = DirLock.acquire(tmp_path)
    try:
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        assert mode(tmp_path / LOCK_NAME) == 0o600
        # flock belongs to an open file: a second open, even in this process, is refused.
        with pytest.raises(InUse) as refused:
            DirLock.acquire(tmp_path)
        assert refused.value.pid == os.getpid()
        assert str(tmp_path) in str(refused.value)
        assert f"process {os.getpid()}" in str(refused.value)
    finally:
        first.release()
    again = DirLock.acquire(tmp_path)  # released: free again
    again.release()
    again.release()  # idempotent
