"""The nginx-rtmp child: started with the rendered config, watched until it exits (a
RelayError, so the supervisor restarts it), always stopped and reaped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from pathlib import Path

from api.config import Settings
from api.errors import RelayError, RelayNotReady
from api.relay.conf import BACKEND_HOST, CONF_NAME, listen_addresses, plain_host, render_conf
from api.relay.ports import free_port, port_is_free, wait_port
from common.process import stop_process

logger = logging.getLogger(__name__)


class Relay:
    """One nginx-rtmp child. `run()` starts it, waits until its port accepts, then waits for
    it to exit (a RelayError, so the supervisor restarts it)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
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
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
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
            status = await proc.wait()
            raise RelayError(self._why(f"nginx exited with status {status}"))
        finally:
            self.ready.clear()
            self.pid = None
            await stop_process(proc)
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
