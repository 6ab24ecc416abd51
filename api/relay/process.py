"""The nginx-rtmp child: started with the rendered config, watched by its pid until it exits
(a RelayError, so the supervisor restarts it), always stopped and reaped with its process
group (its workers); a relay of ours left over from a previous run is stopped first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from api.config import Settings
from api.errors import RelayError, RelayNotReady
from api.relay.conf import BACKEND_HOST, CONF_NAME, listen_addresses, plain_host, render_conf
from api.relay.ports import free_port, port_is_free, wait_port
from common.process import exited, kill_group, spawn, stop_process

logger = logging.getLogger(__name__)

PID_NAME = "nginx.pid"  # where the rendered config tells nginx to write its master's pid
STALE_STOP_S = 5.0


class Relay:
    """One nginx-rtmp child. `run()` starts it, waits until its port accepts, then waits for
    it to exit (a RelayError, so the supervisor restarts it)."""

    def __init__(self, settings: Settings, on_exit: Callable[[], None] | None = None) -> None:
        """`on_exit` hears of every exit of nginx (its publishers are gone with it)."""
        self._settings = settings
        self._on_exit = on_exit
        self._run_dir = settings.relay_run_dir.resolve()
        self._stderr_tail: deque[str] = deque(maxlen=3)
        self.ready = asyncio.Event()
        self.pid: int | None = None

    @property
    def conf_path(self) -> Path:
        return self._run_dir / CONF_NAME

    def write_conf(self) -> Path:
        self._run_dir.mkdir(parents=True, exist_ok=True)
        (self._run_dir / "logs").mkdir(exist_ok=True)  # nginx opens logs/error.log before parsing
        # The config holds the relay secret: readable by its owner only.
        self.conf_path.touch(mode=0o600)
        self.conf_path.chmod(0o600)
        text = render_conf(self._settings, self._run_dir, free_port(BACKEND_HOST))
        self.conf_path.write_text(text, encoding="utf-8")
        return self.conf_path

    async def run(self) -> None:
        relay = self._settings.relay
        # A relay of ours still running (its server was killed before it could stop it, or a
        # version that did not make it die with the server) holds the port: stop it.
        await asyncio.to_thread(stop_stale, self._run_dir / PID_NAME, self.conf_path)
        # nginx retries a busy port for ~2.5 s and the readiness probe below would mistake the
        # other listener for ours: refuse a taken port up front, with a message that says so.
        for listen_host, port in listen_addresses(self._settings):
            if not port_is_free(listen_host, port):
                raise RelayError(f"RTMP port {listen_host}:{port} is already in use")
        conf = await asyncio.to_thread(self.write_conf)
        # -e stderr: nginx opens its compiled-in error log before reading the config otherwise.
        argv = [
            self._settings.relay.nginx,
            "-e",
            "stderr",
            "-p",
            str(self._run_dir),
            "-c",
            str(conf),
        ]
        self._stderr_tail.clear()
        try:
            # Its own process group (the master and its workers, stopped together) and
            # SIGTERM to the master if the server dies: nginx then stops its workers itself.
            proc = await spawn(argv, death_signal=signal.SIGTERM)
        except OSError as exc:
            raise RelayError(f"cannot run {argv[0]!r}: {exc}") from exc
        self.pid = proc.pid
        assert proc.stderr is not None
        drain = asyncio.create_task(self._drain(proc.stderr))
        listen = plain_host(self._settings)
        host = "127.0.0.1" if listen in {"0.0.0.0", ""} else listen  # noqa: S104
        try:
            try:
                await wait_port(
                    host, relay.port, relay.ready_timeout_s, lambda: proc.returncode is None
                )
            except TimeoutError as exc:
                raise RelayNotReady(self._why("did not accept RTMP connections in time")) from exc
            logger.info("relay: nginx-rtmp pid %d listening on %s:%d", proc.pid, host, relay.port)
            self.ready.set()
            # The master itself, not its pipes: a worker it leaves behind keeps stderr open.
            status = await exited(proc)
            raise RelayError(self._why(f"nginx exited with status {status}"))
        finally:
            self.ready.clear()
            self.pid = None
            await stop_process(proc, group=True)
            if self._on_exit is not None:
                self._on_exit()
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain

    def _why(self, what: str) -> str:
        tail = " | ".join(list(self._stderr_tail)[-3:])
        return f"{what}{': ' + tail if tail else ''}"

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr_tail.append(text[:300])
                # "[error] ... stream not found" is a segmenter probing an idle camera: routine.
                serious = any(f"[{lvl}]" in text for lvl in ("emerg", "alert", "crit"))
                logger.log(logging.ERROR if serious else logging.INFO, "nginx: %s", text)


def stop_stale(pid_file: Path, conf: Path) -> int | None:
    """Stop the relay named by `pid_file` if it is ours: an nginx whose command line has our
    config `conf` (a pid left in the file may since belong to anything else). SIGTERM to its
    master, then, if it does not go within STALE_STOP_S, SIGKILL to its group. Returns its
    pid, None if there was none (blocking: run it in a thread)."""
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        return None
    if not _is_our_nginx(pid, conf):
        return None
    logger.warning("relay: stopping nginx pid %d left running by an earlier start", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STALE_STOP_S
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # not our child: no wait() to block on (a worker thread)
    kill_group(pid)  # started by `spawn`: it led its own group (a no-op otherwise)
    if not _gone(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pid


def _is_our_nginx(pid: int, conf: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    # nginx rewrites its master's argv into "nginx: master process <argv joined by spaces>".
    text = cmdline.replace(b"\0", b" ").decode("utf-8", "replace")
    return "nginx" in text and str(conf) in text and not _gone(pid)


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting for its parent (not us) to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
