"""The pipeline under a watchdog: one run after another, restarted on ERROR, EOS or no encoded
buffer for `stall_seconds` with capped backoff, and stopped cleanly (EOS, bounded wait, NULL)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from agent.glib import GLibLoop
from agent.pipeline_run import Frame, Notice, PipelineRun, threadsafe_deliverer
from common.retry import backoff_s

logger = logging.getLogger(__name__)

EOS_TIMEOUT_S = 3.0
NULL_TIMEOUT_S = 0.5  # a cancelled run still waits this long for its teardown to reach NULL
HEALTHY_AFTER_S = 10.0  # a pipeline that streamed this long resets the restart backoff


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """What `doorbell-agent status` shows of the pipeline."""

    state: str
    restarts: int
    last_reason: str | None
    last_encoded_age_s: float | None
    running_for_s: float | None
    motion_frames: int


class PipelineRuntime:
    """Runs the pipeline under the watchdog. `run()` is the loop (for a supervisor) and
    returns only by cancellation; `frames` is the bounded queue of motion frames; `stop()`
    ends the current run cleanly (EOS, bounded wait, NULL)."""

    def __init__(
        self,
        description: str,
        *,
        stall_seconds: float,
        restart_min_s: float = 0.5,
        restart_max_s: float = 10.0,
        frame_queue: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        self.description = description
        self.frames: asyncio.Queue[Frame] = asyncio.Queue(frame_queue)
        self._notices: asyncio.Queue[Notice] = asyncio.Queue(8)
        self._stall_s = stall_seconds
        self._min_s = restart_min_s
        self._max_s = restart_max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._glib = GLibLoop()
        self._current: PipelineRun | None = None
        self._runs = 0
        self._frames_before = 0
        self.restarts = 0
        self.last_reason: str | None = None
        self._stopping = asyncio.Event()

    def status(self) -> RuntimeStatus:
        run, now = self._current, time.monotonic()
        last = run.last_encoded if run is not None else None
        return RuntimeStatus(
            state=run.state if run is not None else "NULL",
            restarts=self.restarts,
            last_reason=self.last_reason,
            last_encoded_age_s=None if last is None else round(now - last, 3),
            running_for_s=None if run is None else round(now - run.started, 3),
            motion_frames=self._frames_before + (run.frames if run is not None else 0),
        )

    async def run(self) -> None:
        """Start, watch, restart with capped backoff; forever. PipelineError propagates."""
        self._glib.start()
        failures = 0
        while True:
            reason, healthy = await self._one_run()
            if self._stopping.is_set():
                await asyncio.Future()  # stopped on purpose: stay down until cancelled
            self.restarts += 1
            self.last_reason = reason
            failures = 0 if healthy else failures + 1
            delay = backoff_s(
                failures, base_s=self._min_s, cap_s=self._max_s, jitter=self._rng.random()
            )
            logger.warning("pipeline: %s; restart %d in %.2f s", reason, self.restarts, delay)
            await asyncio.sleep(delay)  # the restart backoff

    async def _one_run(self) -> tuple[str, bool]:
        """One pipeline from start to failure: (why it ended, whether it had streamed well)."""
        self._runs += 1
        loop = asyncio.get_running_loop()
        run = PipelineRun(
            self._runs, self.description, threadsafe_deliverer(loop), self.frames, self._notices
        )
        self._current = run
        try:
            await self._glib.call(run.start)
            reason = await self._watch(run)
        finally:
            # Not EOS: the run failed (or we are cancelled and stop() already sent it).
            try:
                await self._teardown(run)
            finally:
                self._frames_before += run.frames
        healthy = run.last_encoded is not None and run.last_encoded - run.started >= HEALTHY_AFTER_S
        return reason, healthy

    async def _teardown(self, run: PipelineRun) -> None:
        """`run` to NULL on the GLib thread, awaited to the end even when cancelled meanwhile
        (a stop's cancel may land while a run that just saw EOS is being torn down), for at
        most NULL_TIMEOUT_S; then the cancellation goes on. So `run()` ends after NULL."""
        teardown = asyncio.ensure_future(self._glib.call(run.teardown))
        try:
            await asyncio.shield(teardown)
        except asyncio.CancelledError:
            await self._finish_teardown(run, teardown)
            raise

    @staticmethod
    async def _finish_teardown(run: PipelineRun, teardown: asyncio.Future[None]) -> None:
        done, _ = await asyncio.wait([teardown], timeout=NULL_TIMEOUT_S)
        if not done:
            logger.error(
                "pipeline: run %d not at NULL %g s after the cancel; left to the GLib thread",
                run.run_id,
                NULL_TIMEOUT_S,
            )
        elif not teardown.cancelled() and (error := teardown.exception()) is not None:
            logger.error("pipeline: run %d teardown failed", run.run_id, exc_info=error)

    async def _watch(self, run: PipelineRun) -> str:
        while True:
            base = run.last_encoded if run.last_encoded is not None else run.started
            remaining = base + self._stall_s - time.monotonic()
            if remaining <= 0:
                return f"no encoded buffer for {self._stall_s:g} s"
            # Not `asyncio.wait_for`: on Python 3.11 it returns the notice and drops a
            # cancellation that arrives while the notice is handed over, which is just when
            # a stop's EOS notice and the stop's cancel meet; `run()` would park for good.
            try:
                async with asyncio.timeout(remaining):
                    notice = await self._notices.get()
            except TimeoutError:
                continue
            if notice.run_id == run.run_id:
                return f"{notice.kind}: {notice.detail}"

    async def stop(self) -> None:
        """EOS into the current run and wait for it (at most EOS_TIMEOUT_S), so flvmux and
        rtmp2sink end the stream properly; the caller then cancels `run()` (NULL)."""
        self._stopping.set()
        run = self._current
        if run is None or run.state == "NULL":
            return
        logger.debug("pipeline: EOS (run %d, %s)", run.run_id, run.state)
        await self._glib.call(run.send_eos)
        ended = await asyncio.to_thread(run.eos.wait, EOS_TIMEOUT_S)
        if not ended:
            logger.warning("pipeline: no EOS within %g s; stopping anyway", EOS_TIMEOUT_S)
        else:
            logger.debug("pipeline: EOS reached the sink")

    def close(self) -> None:
        """Quit the GLib loop (after `run()` has ended) and join its thread."""
        self._glib.stop()
