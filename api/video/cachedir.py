"""The clip cache's directory: private (0700, ours), and only the cache's own files in it.

The cache names every file it makes `OWN_PREFIX` + the clip's key (`.part` while one is
written) and deletes nothing but regular files so named. A directory that holds anything
else when the server starts is refused (`UnsafePath` naming what is there), so a
`clip_cache_dir` pointed at a folder of one's own loses nothing, at start or at stop.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from api.private import LOCK_NAME, UnsafePath, private_dir

OWN_PREFIX = "doorbell-clip."
_SHOWN = 5  # foreign names quoted in the refusal


def file_name(key: str, *, part: bool = False) -> str:
    """The name of the cache's file for the clip `key` (or of the one being written)."""
    return OWN_PREFIX + key + (".part" if part else "")


def is_own(name: str) -> bool:
    """Whether the cache makes files named `name` (a clip or a clip being written)."""
    return name.startswith(OWN_PREFIX) and "/" not in name


def open_cache_dir(directory: Path) -> Path:
    """The cache directory made private and emptied of the cache's own files (stale clips of
    an earlier run); UnsafePath if it is not ours or holds anything the cache did not make."""
    directory = private_dir(directory)
    foreign = sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.name != LOCK_NAME and not _own_file(entry)
    )
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (", ..." if len(foreign) > _SHOWN else "")
        raise UnsafePath(
            f"clip_cache_dir {directory} holds {len(foreign)} entries the clip cache did not "
            f"make ({shown}); it deletes its own files, so it needs a directory of its own: "
            "set clip_cache_dir to an empty or new one (default <buffer_dir>/.clips)"
        )
    sweep_cache_dir(directory)
    return directory


def sweep_cache_dir(directory: Path) -> int:
    """Delete the cache's own files in `directory` (nothing else); how many went."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if _own_file(entry):
            try:
                Path(entry.path).unlink()
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def _own_file(entry: os.DirEntry[str]) -> bool:
    return is_own(entry.name) and stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode)
