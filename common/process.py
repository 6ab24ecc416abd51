"""Child processes: starting one that dies with us (its own process group and a parent-death
signal), waiting for the child itself rather than its pipes, signalling without reaping, and
stopping: terminate, bounded wait, kill the group, always reap.

Who reaps: only asyncio's child watcher (one `waitpid(pid)` per child). Nothing here calls
`Popen.poll()`, `terminate()` or `kill()` on the process object, because those poll first and
so reap a child that has just died; the watcher's own `waitpid` then fails and asyncio records
the status as 255 ("Unknown child process pid"). `os.kill` on a child whose `returncode` is
still None is safe: until the watcher has reaped it, its pid cannot be reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Callable

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded now: the forked child must only call into it, not load anything.
_LIBC = ctypes.CDLL(None, use_errno=True)
# After the child itself has exited, how long the watcher may take to tell the loop.
_REAP_WAIT_S = 5.0
_POLL_S = 0.005
_FALLBACK_POLL_S = 0.05


def _die_with_parent(death_signal: int) -> Callable[[], None]:
    parent = os.getpid()
    prctl = _LIBC.prctl

    def set_death_signal() -> None:
        # Runs in the child between fork and exec: no imports, no locks, no allocation beyond
        # the call itself. PR_SET_PDEATHSIG survives exec (of a non-setuid binary).
        if prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
            os._exit(127)
        if os.getppid() != parent:  # the parent died before the prctl: it would never fire
            os.kill(os.getpid(), death_signal)

    return set_death_signal


async def spawn(
    argv: list[str],
    *,
    death_signal: int,
    stdin: int | None = asyncio.subprocess.DEVNULL,
    stdout: int | None = asyncio.subprocess.DEVNULL,
    stderr: int | None = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """Start `argv` in a new session (its own process group, so it and its children can be
    signalled together and a terminal's Ctrl-C reaches only us) with `death_signal` delivered
    to it by the kernel when we die, even by SIGKILL.

    Linux sends the parent-death signal when the *thread* that forked the child exits, not the
    process: call this from the event loop's thread (asyncio forks in the calling thread),
    never from a worker thread. The preexec hook (against the "no preexec_fn" rule, and the
    only one) does a single prctl call and nothing that could take a lock in the child.
    """
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with_parent(death_signal),  # see the docstring
    )


def send(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Signal the child without reaping it (unlike `proc.send_signal`); no-op once exited."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in the group `pgid` (a child started by `spawn` leads its
    own group, whose id is its pid): its children that would outlive it. No-op if empty."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def exited(proc: asyncio.subprocess.Process) -> int:
    """Wait for the child itself to exit and return its status. `proc.wait()` also waits for
    every pipe to close, which a grandchild holding stdout or stderr can delay forever."""
    if proc.returncode is None:
        try:
            pidfd = os.pidfd_open(proc.pid)
        except ProcessLookupError:
            pidfd = None  # already reaped: the status is on its way to the loop
        except OSError:  # no pidfd (Linux < 5.3, or a seccomp filter): poll for the status
            return await _status(proc, _FALLBACK_POLL_S)
        if pidfd is not None:
            try:
                await _readable(pidfd)
            finally:
                os.close(pidfd)
    # The watcher reaps it as it dies and tells the loop moments later.
    async with asyncio.timeout(_REAP_WAIT_S):
        return await _status(proc, _POLL_S)


async def _status(proc: asyncio.subprocess.Process, every_s: float) -> int:
    """The exit status once the loop's child watcher has set it (it has no event to wait on)."""
    while (status := proc.returncode) is None:  # noqa: ASYNC110 (no event to wait on)
        await asyncio.sleep(every_s)
    return status


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def stop_process(
    proc: asyncio.subprocess.Process, timeout_s: float = 5.0, *, group: bool = False
) -> int:
    """Terminate, wait up to `timeout_s`, kill; always reap. With `group` (a child started by
    `spawn`), whatever is left of its process group is killed too, so that nothing it started
    outlives it. Returns the child's exit status (negative: the signal that ended it)."""
    send(proc, signal.SIGTERM)
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can drop a cancellation.
        async with asyncio.timeout(timeout_s):
            status = await exited(proc)
    except TimeoutError:
        logger.warning("pid %s ignored SIGTERM for %.1fs; killing it", proc.pid, timeout_s)
        send(proc, signal.SIGKILL)
        status = await exited(proc)
    if group:
        kill_group(proc.pid)
    try:
        # The pipes close once every holder is gone; a holder outside the group is not ours
        # to kill, so this wait is bounded too.
        async with asyncio.timeout(timeout_s):
            await proc.wait()
    except TimeoutError:
        logger.warning("pid %s exited but something still holds its pipes", proc.pid)
    return status
