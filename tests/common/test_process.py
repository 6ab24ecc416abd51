"""Stopping a child: terminate, bounded wait, kill, always reaped."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from common.process import stop_process

pytestmark = pytest.mark.anyio


async def test_a_child_that_obeys_sigterm_is_reaped_with_its_status() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
    assert await stop_process(proc, timeout_s=5) == -signal.SIGTERM
    assert proc.returncode == -signal.SIGTERM


async def test_a_child_that_ignores_sigterm_is_killed_after_the_deadline() -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    async with asyncio.timeout(10):
        assert await proc.stdout.readline() == b"ready\n"
    assert await stop_process(proc, timeout_s=0.2) == -signal.SIGKILL


async def test_an_exited_child_is_only_reaped() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(3)")
    async with asyncio.timeout(10):
        await proc.wait()
    assert await stop_process(proc) == 3
