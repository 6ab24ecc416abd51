"""Private state on disk: directories 0700 and files 0600 owned by this user whatever the
umask, checked without following a link, and locks that keep a directory to one process.

A directory is refused (`UnsafePath`) when it is a link, not a directory, owned by another
user, or writable by group or others; so is one whose parent chain someone else could
rearrange (owned by another user than root, or world-writable without the sticky bit, as
/tmp and /dev/shm have it). A local user who made `/dev/shm/doorbell` first therefore gets
a refusal naming it, not our video.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = ".doorbell.lock"


class UnsafePath(Exception):
    """A state path this process must not use; the message names it and says why."""


class InUse(Exception):
    """Another process holds the lock of a state directory."""

    def __init__(self, directory: Path, lock: Path, pid: int | None) -> None:
        self.directory, self.lock, self.pid = directory, lock, pid
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"{directory} is in use by {holder} (it holds {lock}): another Doorbell server "
            "runs on this state; stop it, or give this one its own data_dir and buffer_dir"
        )


def dir_problem(st: os.stat_result, euid: int) -> str | None:
    """Why a directory with this lstat must not hold our state, or None."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid != euid:
        return f"is owned by uid {st.st_uid}, not by this user (uid {euid})"
    if st.st_mode & 0o022:
        return f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}): chmod 700 it"
    return None


def ancestor_problem(st: os.stat_result, euid: int) -> str | None:
    """Why a directory above our state lets someone else swap what is below it, or None.
    Root's directories and ours are trusted; a world-writable one only with the sticky bit
    (then nobody can rename or delete what another user made in it)."""
    if st.st_uid not in {0, euid}:
        return f"is owned by uid {st.st_uid} (neither root nor this user)"
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return "is writable by everyone without the sticky bit"
    return None


def private_dir(path: Path) -> Path:
    """`path` (made absolute) as a directory of ours with mode 0700: missing parts are made
    0700; an existing one of ours that others can read is tightened to 0700; one that fails
    `dir_problem`, or a parent that fails `ancestor_problem`, is refused with UnsafePath."""
    path = path.absolute()
    euid = os.geteuid()
    parent = path.parent.resolve()  # links above the directory are the admin's choice
    missing: list[Path] = []
    existing = parent
    while not existing.exists():
        missing.append(existing)
        existing = existing.parent
    for ancestor in (existing, *existing.parents):
        problem = ancestor_problem(ancestor.stat(), euid)
        if problem is not None:
            raise UnsafePath(f"{ancestor} (above {path}) {problem}")
    for directory in reversed(missing):
        _make(directory)
    target = parent / path.name
    _make(target)
    return target


def _make(directory: Path) -> None:
    """Make `directory` 0700 or check the one there (lstat: a link is refused, not followed)."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(DIR_MODE)  # the umask may take bits: chmod below
    st = os.lstat(directory)
    problem = dir_problem(st, os.geteuid())
    if problem is not None:
        raise UnsafePath(f"{directory} {problem}")
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        directory.chmod(DIR_MODE, follow_symlinks=False)


def private_file(path: Path, *, create: bool = True) -> None:
    """Give `path` mode 0600 (made empty when missing and `create`); a link is refused."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnsafePath(f"{path}: {exc.strerror} (a link is not followed)") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise UnsafePath(f"{path} is not a regular file of this user (uid {os.geteuid()})")
        if stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


@dataclass(slots=True)
class DirLock:
    """An exclusive lock on a directory (`flock` on its LOCK_NAME file, which says the pid),
    held until `release()` or the process ends; the kernel drops it when a holder dies."""

    directory: Path
    fd: int | None

    @classmethod
    def acquire(cls, directory: Path) -> DirLock:
        """The lock of `directory`, or InUse naming the process that holds it."""
        lock = directory / LOCK_NAME
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise InUse(directory, lock, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(directory, fd)

    def release(self) -> None:
        """Drop the lock (the file stays: deleting it would race with the next taker)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def write_private(path: Path, text: str) -> None:
    """Write `path` as a new file of mode 0600 (a temporary one renamed over it), whatever
    the mode of the file it replaces: a config with secrets is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
            out.write(text)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
