"""The server's claim on its state: every directory it writes made private (0700, ours; see
`api.private`), the SQLite files 0600, and a lock on the data, buffer and clip cache
directories (and on a media directory outside the data directory) held for the server's
life, so a second server on the same paths is refused before it touches anything (no
migration, no cache sweep, no segmenter start)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from api.config import Settings
from api.private import DirLock, private_dir, private_file
from api.video.cachedir import open_cache_dir

logger = logging.getLogger(__name__)

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(slots=True)
class StateClaim:
    """The locks of one running server, in the order taken; `release()` drops them."""

    locks: list[DirLock] = field(default_factory=list)

    @property
    def directories(self) -> list[Path]:
        return [lock.directory for lock in self.locks]

    def release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()
        self.locks.clear()


def claim_state(settings: Settings) -> StateClaim:
    """Lock and make private what `settings` say the server writes. Raises
    `api.private.InUse` (another process holds a lock: nothing was changed beyond the
    directories' modes) or `api.private.UnsafePath` (a directory that is not ours)."""
    claim = StateClaim()
    try:
        for directory in _locked_dirs(settings):
            claim.locks.append(DirLock.acquire(private_dir(directory)))
        for directory in (settings.data_dir, settings.buffer_dir):
            private_dir(directory)
        # Locked: now what the directories hold may be changed.
        open_cache_dir(settings.clip_dir)
        private_dir(settings.media_root)
        if settings.relay.enabled:
            private_dir(settings.relay_run_dir)
        _private_sqlite(settings.database)
    except BaseException:
        claim.release()
        raise
    return claim


def _locked_dirs(settings: Settings) -> list[Path]:
    """The data and buffer directories, and the clip cache and the media directory when they
    are not inside those (their defaults): each is locked on its own."""
    found: list[Path] = []
    for directory in (
        settings.data_dir,
        settings.buffer_dir,
        settings.clip_dir,
        settings.media_root,
    ):
        absolute = directory.absolute()
        if not any(absolute.is_relative_to(d) for d in found):
            found.append(absolute)
    return found


def _private_sqlite(url: str) -> None:
    """The SQLite database file made 0600 before SQLite makes it (its -wal and -shm files
    take the database's mode), and ones an earlier version left readable tightened."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # not a URL: opening the database says so, naming database_url
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return
    database = Path(parsed.database)
    if not database.parent.exists():
        private_dir(database.parent)
    private_file(database)
    for suffix in SQLITE_SIDE_FILES:
        private_file(database.with_name(database.name + suffix), create=False)
