"""Identifier rules every package checks: camera ids (in URLs, paths and ffmpeg argv) and
event ids (UUIDs chosen by the agent)."""

from __future__ import annotations

import re

CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
# Private: `.match` with `$` accepts a trailing newline; callers use the functions below.
_CAMERA_ID = re.compile(CAMERA_ID_PATTERN)
CAMERA_ID_RULE = "1-32 of a-z 0-9 - _, starting a-z or 0-9"

# Lowercase and hyphenated: the form `str(uuid.UUID(...))` gives.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_UUID = re.compile(UUID_PATTERN)


def is_camera_id(value: str) -> bool:
    # fullmatch: `$` alone would also accept a trailing newline.
    return _CAMERA_ID.fullmatch(value) is not None


def camera_id_problem(value: str) -> str | None:
    """Why `value` is not a camera id (None if it is one)."""
    if is_camera_id(value):
        return None
    return f"camera id {value!r} is not allowed: use {CAMERA_ID_RULE}"


def is_event_id(value: str) -> bool:
    return _UUID.fullmatch(value) is not None
