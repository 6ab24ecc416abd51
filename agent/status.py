"""The agent's status file: a small JSON document the running agent rewrites every few
seconds, read by `doorbell-agent status` and (for the pid) `doorbell-agent ring`."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

# A status file older than this many write intervals belongs to an agent that is not running.
STALE_INTERVALS = 3


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the file atomically (write a sibling, then rename): readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status written, or None if there is none (or it is unreadable)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def is_fresh(status: dict[str, Any], now_ms: int) -> bool:
    """Whether the agent that wrote `status` was alive a few intervals ago."""
    updated, interval = status.get("updated_ms"), status.get("interval_s")
    if not isinstance(updated, int) or not isinstance(interval, int | float):
        return False
    return 0 <= now_ms - updated <= STALE_INTERVALS * interval * 1000 + 1000


def live_agent_pid(status: dict[str, Any], now_ms: int) -> int | None:
    """The pid of the running agent that wrote `status`, checked so a signal never reaches
    an unrelated process that reused the pid: fresh file, process alive, an agent's argv."""
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 1 or not is_fresh(status, now_ms):
        return None
    with contextlib.suppress(OSError):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(b"agent" in part for part in argv):
            return pid
    return None
