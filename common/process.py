"""Stopping a child process: terminate, wait with a deadline, kill, and always reap."""

from __future__ import annotations

import asyncio
import contextlib
import logging

logger = logging.getLogger(__name__)


async def stop_process(proc: asyncio.subprocess.Process, timeout_s: float = 5.0) -> int:
    """Terminate, wait up to `timeout_s`, kill; always reap. Returns the exit status."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can drop a cancellation.
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            logger.warning("pid %s ignored SIGTERM for %.1fs; killing it", proc.pid, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return await proc.wait()
