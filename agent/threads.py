"""OS names for the agent's own threads (what `top -H`, `ps -L` and /proc/PID/task/TID/comm
show): Python 3.11 names only its `threading.Thread` objects, so every Python thread would
read "python". GStreamer names its streaming threads itself (`queue0:src`, ...)."""

from __future__ import annotations

import contextlib
import ctypes

PR_SET_NAME = 15  # linux/prctl.h
COMM_MAX = 15  # bytes the kernel keeps, without the NUL


def name_os_thread(name: str) -> None:
    """Name the calling thread for the OS, cut to 15 bytes; best effort (Linux only: a no-op
    where libc has no prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:COMM_MAX], 0, 0, 0)
