"""The agent's wiring: pipeline + watchdog, motion, button, outbox, uplink and status file,
run as supervised asyncio tasks until SIGTERM/SIGINT.

Supervision: the pipeline restarts itself (agent/watchdog.py) and the uplink retries by
itself (agent/uplink.py); so any task that still ends is fatal (a bug, an outbox that cannot
be written, a pipeline that cannot be built here). It is logged with its traceback and the
process exits 1 for systemd (Restart=always) to start it again.

Stop (within 5 s): EOS into the pipeline (bounded), an open motion episode ends, the uplink
gets a short moment to deliver what is pending (the rest stays in the outbox for the next
start), then every task is cancelled and awaited, the HTTP client and the outbox closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from agent.button import WAKE_SIGNAL, DoorButton, ring_event
from agent.config import AgentSettings
from agent.events import Event
from agent.motion import MotionDetector, MotionEvent
from agent.outbox import AsyncOutbox
from agent.pipeline import describe
from agent.status import write_status
from agent.threads import name_os_thread
from agent.uplink import Uplink
from agent.watchdog import PipelineRuntime
from common.clock import wall_ms

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
# Defaults of AgentApp's stop budget (parameters, so tests can shorten them).
STOP_S = 4.0  # the whole clean stop (EOS, motion_end, drain); SIGTERM must end us within 5 s
DRAIN_S = 1.0  # how long the stop lets the uplink deliver what is pending
TEARDOWN_S = 1.0  # how long a stop waits for the cancelled pipeline, motion, button tasks
PRESS_QUEUE = 256  # presses waiting for the outbox; beyond (a broken outbox): logged, dropped


class AgentApp:
    """The running doorbell. `run()` returns the exit code; `request_stop()` ends it.

    `stop_s`, `drain_s` and `teardown_s` bound the stop (see the module docstring)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        stop_s: float = STOP_S,
        drain_s: float = DRAIN_S,
        teardown_s: float = TEARDOWN_S,
    ) -> None:
        self.settings = settings
        self._stop_s = stop_s
        self._drain_s = drain_s
        self._teardown_s = teardown_s
        self.runtime = PipelineRuntime(
            describe(settings),
            stall_seconds=settings.stall_seconds,
            restart_min_s=settings.restart_min_s,
            restart_max_s=settings.restart_max_s,
        )
        self.detector = MotionDetector(settings.motion)
        self.button: DoorButton | None = None
        self.uplink: Uplink | None = None
        self._outbox: AsyncOutbox | None = None
        self._presses: asyncio.Queue[int] = asyncio.Queue(PRESS_QUEUE)
        self._stop = asyncio.Event()
        self._last_frame_ms: int | None = None
        self._motion_executor = ThreadPoolExecutor(
            1, thread_name_prefix="motion", initializer=name_os_thread, initargs=("motion",)
        )

    def request_stop(self) -> None:
        if not self._stop.is_set():
            logger.info("agent: stopping")
        self._stop.set()

    def press(self, at_ms: int) -> None:
        """A button press at `at_ms` (on the event loop's thread)."""
        if self._presses.full():
            logger.error("button: %d presses waiting for the outbox; press dropped", PRESS_QUEUE)
            return
        self._presses.put_nowait(at_ms)

    async def run(self) -> int:
        s = self.settings
        loop = asyncio.get_running_loop()
        s.outbox_path.parent.mkdir(parents=True, exist_ok=True)
        self._outbox = await AsyncOutbox.open(s.outbox_path, s.outbox_max_events)
        client = httpx.AsyncClient()
        uplink = self.uplink = Uplink(
            self._outbox, s.api_url, s.device_token.get_secret_value(), client
        )
        signals = (signal.SIGTERM, signal.SIGINT, WAKE_SIGNAL)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(WAKE_SIGNAL, uplink.notify)
        tasks: dict[asyncio.Task[None], str] = {}
        code = EXIT_OK
        try:
            if s.button_pin is not None:
                self.button = DoorButton(
                    s.button_pin, s.button_bounce_ms, self.press, loop.call_soon_threadsafe
                )
            for name, coro in (
                ("pipeline", self.runtime.run()),
                ("motion", self._motion()),
                ("button", self._rings()),
                ("uplink", uplink.run()),
                ("status", self._status_loop()),
            ):
                tasks[asyncio.create_task(coro, name=name)] = name
            logger.info("agent: camera %s, source %s, running", s.camera, s.source)
            stop: asyncio.Task[Any] = asyncio.create_task(self._stop.wait(), name="stop")
            waiting: list[asyncio.Task[Any]] = [stop, *tasks]
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for task in done:
                if task is not stop:
                    code = EXIT_FATAL
                    error = None if task.cancelled() else task.exception()
                    logger.critical(
                        "agent: %s ended (%r); exiting", tasks[task], error, exc_info=error
                    )
            try:
                async with asyncio.timeout(self._stop_s):
                    await self._shutdown(tasks, fatal=code != EXIT_OK)
            except TimeoutError:
                logger.warning(
                    "agent: clean stop took over %g s; cancelling the rest", self._stop_s
                )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for sig in signals:
                loop.remove_signal_handler(sig)
            if self.button is not None:
                self.button.close()
            self.runtime.close()
            self._motion_executor.shutdown(wait=False)
            with contextlib.suppress(Exception):  # best effort: the status of a stopped agent
                await self._write_status("stopped")
            await client.aclose()
            await self._outbox.aclose()
        logger.info("agent: stopped (exit %d)", code)
        return code

    async def _shutdown(self, tasks: dict[asyncio.Task[None], str], *, fatal: bool) -> None:
        """EOS, end an open motion episode, let the uplink drain briefly, then cancel."""
        started = time.monotonic()
        if not fatal:
            await self.runtime.stop()
        pipeline = [t for t, name in tasks.items() if name in {"pipeline", "motion", "button"}]
        for task in pipeline:
            task.cancel()
        # A safety net, not a step: these end within milliseconds of the cancel (NULL takes
        # ~15 ms). A task still running has lost its cancellation (a bug): say where it is
        # stuck, and stop anyway.
        _done, stuck = await asyncio.wait(pipeline, timeout=self._teardown_s)
        for task in stuck:
            where = io.StringIO()
            task.print_stack(file=where)
            logger.error(
                "agent: BUG: task %s did not end within %g s of its cancel; stopping without "
                "it. %s",
                task.get_name(),
                self._teardown_s,
                where.getvalue().strip(),
            )
        if self.detector.active and self._last_frame_ms is not None:
            # The camera stops watching: the episode ends with its last frame. A frame of
            # another size is the detector's way to end an open episode.
            end = await asyncio.get_running_loop().run_in_executor(
                self._motion_executor,  # the detector's own thread: it may still be busy
                self.detector.update,
                np.zeros((1, 1), np.uint8),
                self._last_frame_ms,
            )
            if end is not None:
                await self._submit(end)
        while not self._presses.empty():
            await self._submit_ring(self._presses.get_nowait())
        remaining = min(self._drain_s, self._stop_s - 0.5 - (time.monotonic() - started))
        if remaining > 0 and self._outbox is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._drained()

    async def _drained(self) -> None:
        assert self._outbox is not None
        # The uplink has no "drained" signal; this poll lasts at most drain_s, once, at stop.
        while await self._outbox.count():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def _motion(self) -> None:
        """Frames -> detector (on its own thread: CPU work) -> events into the outbox."""
        loop = asyncio.get_running_loop()
        while True:
            frame, at_ms = await self.runtime.frames.get()
            self._last_frame_ms = at_ms
            found = await loop.run_in_executor(
                self._motion_executor, self.detector.update, frame, at_ms
            )
            if found is not None:
                await self._submit(found)

    async def _submit(self, found: MotionEvent) -> None:
        assert self.uplink is not None
        event = Event.new(self.settings.camera, found.kind, found.at_ms, found.score, found.box)
        logger.info("motion: %s score %.3f box %s", found.kind, found.score, found.box)
        await self.uplink.submit(event)

    async def _rings(self) -> None:
        while True:
            await self._submit_ring(await self._presses.get())

    async def _submit_ring(self, at_ms: int) -> None:
        assert self.uplink is not None
        event = ring_event(self.settings.camera, at_ms)
        logger.info("button: ring %s", event.id)
        await self.uplink.submit(event)

    async def _status_loop(self) -> None:
        while True:
            await self._write_status("running")
            await asyncio.sleep(self.settings.status_interval_s)  # the status file's period

    async def _write_status(self, state: str) -> None:
        await asyncio.to_thread(write_status, self.settings.status_path, await self.status(state))

    async def status(self, state: str = "running") -> dict[str, Any]:
        """The status document (see `doorbell-agent status`)."""
        pipeline = self.runtime.status()
        body: dict[str, Any] = {
            "agent": state,
            "pid": os.getpid(),
            "camera": self.settings.camera,
            "source": self.settings.source,
            "updated_ms": wall_ms(),
            "interval_s": self.settings.status_interval_s,
            "pipeline": {
                "state": pipeline.state,
                "restarts": pipeline.restarts,
                "last_reason": pipeline.last_reason,
                "last_encoded_age_s": pipeline.last_encoded_age_s,
                "running_for_s": pipeline.running_for_s,
                "motion_frames": pipeline.motion_frames,
            },
            "motion_active": self.detector.active,
        }
        if self.uplink is not None:
            up = await self.uplink.status()
            body["outbox"] = {
                "pending": up.pending,
                "sent": up.sent,
                "dropped": up.dropped,
                "refused": up.refused,
                "last_error": up.last_error,
                "last_success_ms": up.last_success_ms,
            }
            body["clock_offset_ms"] = up.clock_offset_ms
        return body


def run_agent(settings: AgentSettings) -> int:
    """The process's main: build the app inside the event loop and run it."""

    async def main() -> int:
        return await AgentApp(settings).run()

    return asyncio.run(main())
