"""TCP ports of a child: is one free to bind, and waiting until one accepts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable


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


def free_port(host: str) -> int:
    """A TCP port nothing listens on at `host` now (the kernel's pick)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
