"""The relay's nginx, supervised: its master watched by pid (not by its pipes), its whole
process group stopped with it, and a relay of ours left over from an earlier start stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.config import RelaySettings, Settings
from api.errors import RelayError
from api.relay.presence import Presence
from api.relay.process import PID_NAME, Relay
from tests.api.fakes import FakeBuffer
from tests.conftest import eventually, require_binary

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "profile": "dev",
            "port": 8123,
            "data_dir": tmp_path / "data",
            "api_tokens": ["dev-token"],
            "relay_secret": "dev-relay-secret",
            "cameras": [{"id": "front", "stream_key": "dev-key"}],
            "relay": RelaySettings(
                listen_host="127.0.0.1",
                port=_free_port(),
                nginx=require_binary("nginx"),
                run_dir=tmp_path / "relay",
            ),
        }
    )


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group(pgid: int) -> list[int]:
    """Live processes in the process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    members.append(int(entry.name))
    return members


@contextlib.asynccontextmanager
async def _running(relay: Relay) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(15):
            await relay.ready.wait()
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RelayError):
            await task


async def test_a_killed_master_is_noticed_and_its_workers_go_with_it(tmp_path: Path) -> None:
    exits: list[bool] = []
    relay = Relay(_settings(tmp_path), on_exit=lambda: exits.append(relay.ready.is_set()))
    async with _running(relay) as task:
        master = relay.pid
        assert master is not None
        workers = [pid for pid in _group(master) if pid != master]
        assert workers  # worker_processes 1: its own group, led by the master
        os.kill(master, signal.SIGKILL)
        # Before: Process.wait() waited for stderr, which the orphaned worker held open.
        async with asyncio.timeout(10):
            with pytest.raises(RelayError, match="status -9"):
                await task
        # Nothing of it survives: its group was sent SIGKILL, which the kernel delivers
        # asynchronously (a worker can be seen running for a moment after killpg returns).
        await eventually("the relay's group gone", lambda: _group(master) == [], 5)
        assert not relay.ready.is_set()
        assert exits == [False]  # told once, after it stopped being ready


async def test_stopping_the_relay_leaves_no_process_of_its_group(tmp_path: Path) -> None:
    relay = Relay(_settings(tmp_path))
    async with _running(relay):
        master = relay.pid
        assert master is not None
    # Whatever was left of the group got SIGKILL, delivered asynchronously.
    await eventually("the relay's group gone", lambda: _group(master) == [], 5)


async def test_a_stale_relay_of_ours_is_stopped_before_starting(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    conf = Relay(settings).write_conf()
    run_dir = settings.relay_run_dir.resolve()
    # A relay whose server was killed by a version that did not take it down with it.
    argv = [settings.relay.nginx, "-e", "stderr", "-p", str(run_dir), "-c", str(conf)]
    stale = await asyncio.create_subprocess_exec(
        *argv, stderr=asyncio.subprocess.DEVNULL, start_new_session=True
    )
    try:
        await eventually("the relay's pid file", (run_dir / PID_NAME).exists, 10)
        relay = Relay(settings)
        # Before: "RTMP port ... is already in use", and every restart failed the same way.
        async with _running(relay):
            assert relay.pid != stale.pid
            async with asyncio.timeout(10):
                assert await stale.wait() == 0  # SIGTERM: nginx's fast shutdown
            assert _group(stale.pid) == []
    finally:
        if stale.returncode is None:
            os.killpg(stale.pid, signal.SIGKILL)
            await stale.wait()


async def test_a_pid_file_naming_another_program_is_left_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    other = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        run_dir = settings.relay_run_dir.resolve()
        run_dir.mkdir(parents=True)
        (run_dir / PID_NAME).write_text(f"{other.pid}\n")
        relay = Relay(settings)
        async with _running(relay):
            assert _alive(other.pid)
    finally:
        os.kill(other.pid, signal.SIGKILL)
        await other.wait()


def test_publishers_are_forgotten_when_the_relay_exits() -> None:
    # nginx killed: no on_publish_done comes, yet its publishers are gone with it.
    presence = Presence({"front": FakeBuffer(first_ms=0, newest_ms=0)}, clock=lambda: 5000)
    presence.publish_started("front", "192.0.2.7", "client-1")
    assert presence.publisher("front") is not None
    presence.relay_exited()
    assert presence.publisher("front") is None
    assert presence.since_ms("front") == 5000
