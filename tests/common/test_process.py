"""Child processes: stopped (terminate, bounded wait, kill, always reaped) with their true
status, watched by pid rather than pipes, and dying with their parent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.process import exited, spawn, stop_process
from tests.conftest import eventually

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


# -- exit statuses are recorded truthfully ------------------------------------------------


@contextlib.contextmanager
def _lazy_reaper() -> Iterator[None]:
    """A child watcher that reaps only when the loop runs its SIGCHLD handler. In production
    the watcher is a thread blocked in waitpid, which under load may not run before the loop
    sees the child's pipes close: this makes that window certain instead of likely."""
    policy = asyncio.get_event_loop_policy()
    before = policy.get_child_watcher()
    watcher = asyncio.SafeChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    policy.set_child_watcher(watcher)
    try:
        yield
    finally:
        policy.set_child_watcher(before)
        watcher.close()


async def test_a_child_killed_from_outside_is_recorded_with_the_signal_that_ended_it() -> None:
    # The segmenter's case: ffmpeg killed, the session ends and stops it while it is a zombie
    # that the watcher has not reaped yet. `Process.terminate()` polls first and so reaped it,
    # and the watcher recorded 255 ("Unknown child process pid") for 2 kills in 3.
    with _lazy_reaper():
        for sig in (signal.SIGKILL, signal.SIGTERM):
            proc = await asyncio.create_subprocess_exec("sleep", "60")
            os.kill(proc.pid, sig)
            deadline = time.monotonic() + 10
            while _state(proc.pid) != "Z":  # no loop iteration: nothing reaps it meanwhile
                assert time.monotonic() < deadline
            async with asyncio.timeout(10):
                assert await stop_process(proc) == -sig


# -- spawn: its own group, dies with us, watched by its pid -------------------------------


def _state(pid: int) -> str:
    """The process's state letter (Z: a zombie), or "gone"."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


def _gone(pid: int) -> bool:
    """No such process, or a zombie (its parent, maybe a container's init, not reaping)."""
    return _state(pid) in {"gone", "Z"}


async def test_the_child_is_seen_to_exit_while_a_grandchild_holds_its_pipes() -> None:
    # nginx's case: its master killed, its worker (same pipes) lives on.
    code = (
        "import subprocess, sys, time\n"
        "worker = subprocess.Popen(['sleep', '60'])\n"
        "print(worker.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = await spawn(
        [sys.executable, "-c", code], death_signal=signal.SIGTERM, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    async with asyncio.timeout(10):
        worker = int(await proc.stdout.readline())
    assert os.getpgid(worker) == proc.pid  # its own group, led by the child
    os.kill(proc.pid, signal.SIGKILL)
    async with asyncio.timeout(10):
        assert await exited(proc) == -signal.SIGKILL
    assert not _gone(worker)  # the orphan is still there...
    assert await stop_process(proc, timeout_s=5, group=True) == -signal.SIGKILL
    await eventually("the worker gone", lambda: _gone(worker), 10)  # ...and with the group


async def test_a_spawned_child_dies_with_its_parent_even_when_the_parent_is_sigkilled() -> None:
    code = (
        "import asyncio, signal\n"
        "from common.process import spawn\n"
        "async def main() -> None:\n"
        "    child = await spawn(['sleep', '60'], death_signal=signal.SIGKILL)\n"
        "    print(child.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    async with asyncio.timeout(20):
        child = int(await parent.stdout.readline())
    assert not _gone(child)
    parent.kill()  # our own test child: no watcher race matters here
    assert await parent.wait() == -signal.SIGKILL
    await eventually("the child gone", lambda: _gone(child), 10)
