"""Child-process helpers: reaping with a deadline and waiting for a port to accept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


async def stop_process(proc: asyncio.subprocess.Process, timeout_s: float = 5.0) -> int:
    """Terminate, wait up to `timeout_s`, kill; always reap. Returns the exit status."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: it can drop a cancel (3.11)
                await proc.wait()
        except TimeoutError:
            logger.warning("pid %s ignored SIGTERM for %.1fs; killing it", proc.pid, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return await proc.wait()


async def wait_port(
    host: str, port: int, timeout_s: float, alive: Callable[[], bool] = lambda: True
) -> None:
    """Return once host:port accepts a TCP connection; TimeoutError after `timeout_s` or as
    soon as `alive()` turns false (the process that should bind it died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)  # poll interval while the child binds its port
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise TimeoutError(f"{host}:{port} did not accept connections within {timeout_s:g}s")


def port_is_free(host: str, port: int) -> bool:
    """True if a TCP listener could bind host:port now (with SO_REUSEADDR, as nginx does)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
