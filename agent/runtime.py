"""The GStreamer side of the agent: the GLib main loop thread, one pipeline's lifecycle, and
the watchdog that restarts it (on ERROR, EOS, or no encoded buffer for `stall_seconds`).

Threads: the GLib main loop runs in its own thread and owns every pipeline state change
(`GLib.idle_add`); the bus is watched there by one "message" handler. Streaming threads only
copy motion frames and stamp the last encoded buffer's time; they never change state. What
asyncio must see crosses through `loop.call_soon_threadsafe` into bounded queues that drop
their oldest entry when full (frames: the newest matter; notices: the watchdog only needs to
know that the pipeline failed, and a newer notice says so as well as an older one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from agent.errors import PipelineError
from agent.gst import gst
from agent.pipeline import ENCODED, MOTION
from agent.threads import name_os_thread
from common.clock import wall_ms
from common.retry import backoff_s

logger = logging.getLogger(__name__)

T = TypeVar("T")
Frame = tuple[npt.NDArray[np.uint8], int]  # GRAY8 frame, capture time (UTC epoch ms)
NoticeKind = Literal["error", "eos"]
EOS_TIMEOUT_S = 3.0
NULL_TIMEOUT_S = 0.5  # a cancelled run still waits this long for its teardown to reach NULL
HEALTHY_AFTER_S = 10.0  # a pipeline that streamed this long resets the restart backoff


@dataclass(frozen=True, slots=True)
class Notice:
    """A bus message the watchdog acts on, tagged with the pipeline run it came from."""

    run: int
    kind: NoticeKind
    detail: str


def put_dropping_oldest(queue: asyncio.Queue[T], item: T) -> bool:
    """Put without waiting; when full, drop the oldest item first. True if one was dropped."""
    dropped = False
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
            dropped = True
    queue.put_nowait(item)
    return dropped


def copy_gray8(data: bytes | memoryview, width: int, height: int) -> npt.NDArray[np.uint8]:
    """A contiguous (height, width) copy of a mapped GRAY8 buffer; rows may be padded (the
    stride is the buffer size divided by the height, at least the width)."""
    size = len(data)
    stride = size // height if height else 0
    if height <= 0 or width <= 0 or stride < width:
        raise ValueError(f"GRAY8 buffer of {size} bytes cannot hold {width}x{height}")
    rows = np.frombuffer(data, dtype=np.uint8, count=stride * height).reshape(height, stride)
    return rows[:, :width].copy()


class GLibLoop:
    """The GLib main loop in a thread of its own (the default main context: bus watches and
    idle callbacks attach there). `call()` runs a function on it and awaits the result."""

    def __init__(self) -> None:
        self._gst, self._glib = gst()
        self._loop: Any = self._glib.MainLoop()
        self._thread = threading.Thread(target=self._run, name="glib", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        name_os_thread("glib")
        self._loop.run()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the GLib thread (where pipeline state changes belong).

        Cancelling the caller ends the await at once; `fn` is already queued and still runs
        (a teardown must not be skipped), its outcome then dropped."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if future.done():  # the caller was cancelled meanwhile
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def run() -> bool:
            try:
                outcome: tuple[T | None, BaseException | None] = (fn(), None)
            except Exception as exc:
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the event loop closed meanwhile
                loop.call_soon_threadsafe(settle, *outcome)
            return False  # one-shot

        # Above the bus watch and redraw priorities: a stop must not wait behind messages.
        self._glib.idle_add(run, priority=self._glib.PRIORITY_HIGH)
        return await future

    def stop(self, timeout_s: float = 0.5) -> None:
        """Quit once the calls already queued have run (a teardown in flight reaches NULL;
        they are HIGH priority, the quit DEFAULT), then join the thread (bounded)."""

        def quit_loop() -> bool:
            self._loop.quit()
            return False

        if not self._thread.is_alive():
            return
        self._glib.idle_add(quit_loop, priority=self._glib.PRIORITY_DEFAULT)
        self._thread.join(timeout_s)


class PipelineRun:
    """One parsed pipeline, from PLAYING to NULL. Every method runs on the GLib thread except
    the streaming-thread callbacks (`_on_sample`, `_on_encoded`)."""

    def __init__(
        self,
        run: int,
        description: str,
        deliver: Callable[[Callable[[], object]], None],
        frames: asyncio.Queue[Frame],
        notices: asyncio.Queue[Notice],
    ) -> None:
        self.run = run
        self._gst, _ = gst()
        self._description = description
        self._deliver = deliver  # loop.call_soon_threadsafe, guarded against a closed loop
        self._frames = frames
        self._notices = notices
        self._pipeline: Any = None
        self._bus: Any = None
        self._handlers: list[tuple[Any, int]] = []  # (object, signal handler id)
        self._probes: list[tuple[Any, int]] = []  # (pad, probe id)
        self.state = "NULL"
        self.started = time.monotonic()
        self.last_encoded: float | None = None  # time.monotonic() of the last encoded buffer
        self.encoded_buffers = 0
        self.frames = 0
        self.eos = threading.Event()

    def start(self) -> None:
        Gst = self._gst
        try:
            self._pipeline = Gst.parse_launch(self._description)
        except Exception as exc:  # GLib.Error: a missing element or bad syntax
            raise PipelineError(f"cannot build the pipeline: {exc}") from exc
        self._bus = self._pipeline.get_bus()
        self._bus.add_signal_watch()
        self._handlers.append((self._bus, self._bus.connect("message", self._on_message)))
        appsink = self._pipeline.get_by_name(MOTION)
        self._handlers.append((appsink, appsink.connect("new-sample", self._on_sample)))
        pad = self._pipeline.get_by_name(ENCODED).get_static_pad("src")
        self._probes.append((pad, pad.add_probe(Gst.PadProbeType.BUFFER, self._on_encoded)))
        self.started = time.monotonic()
        if self._pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._notify("error", "cannot set the pipeline to PLAYING")

    def send_eos(self) -> None:
        if self._pipeline is not None:
            self._pipeline.send_event(self._gst.Event.new_eos())

    def teardown(self) -> None:
        """To NULL, then every handler, probe and the bus watch removed."""
        if self._pipeline is None:
            return
        self._pipeline.set_state(self._gst.State.NULL)
        for pad, probe in self._probes:
            pad.remove_probe(probe)
        for obj, handler in self._handlers:
            obj.disconnect(handler)
        self._bus.remove_signal_watch()
        self._probes.clear()
        self._handlers.clear()
        self._pipeline = self._bus = None
        self.state = "NULL"

    # --- the one bus handler (GLib thread) ---
    def _on_message(self, _bus: Any, message: Any) -> None:
        Gst = self._gst
        kind = message.type
        if kind == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            source = message.src.get_name() if message.src is not None else "?"
            logger.error("pipeline: %s: %s (%s)", source, error.message, debug)
            self._notify("error", f"{source}: {error.message}")
        elif kind == Gst.MessageType.EOS:
            self.eos.set()
            self._notify("eos", "end of stream")
        elif kind == Gst.MessageType.WARNING:
            warning, debug = message.parse_warning()
            logger.warning("pipeline: %s (%s)", warning.message, debug)
        elif kind == Gst.MessageType.STATE_CHANGED and message.src == self._pipeline:
            _old, new, _pending = message.parse_state_changed()
            self.state = Gst.Element.state_get_name(new)
            logger.debug("pipeline %d: %s", self.run, self.state)

    def _notify(self, kind: NoticeKind, detail: str) -> None:
        notice = Notice(self.run, kind, detail)
        self._deliver(functools.partial(put_dropping_oldest, self._notices, notice))

    # --- streaming threads: copy, stamp, hand over; never a state change ---
    def _on_sample(self, sink: Any) -> Any:
        Gst = self._gst
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        at_ms = wall_ms()
        structure = sample.get_caps().get_structure(0)
        width, height = structure.get_value("width"), structure.get_value("height")
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.OK
        try:
            frame = copy_gray8(info.data, width, height)
        except ValueError:
            logger.exception("pipeline: unusable motion frame")
            return Gst.FlowReturn.OK
        finally:
            buffer.unmap(info)
        self.frames += 1
        self._deliver(functools.partial(put_dropping_oldest, self._frames, (frame, at_ms)))
        return Gst.FlowReturn.OK

    def _on_encoded(self, _pad: Any, _info: Any) -> Any:
        self.last_encoded = time.monotonic()
        self.encoded_buffers += 1
        return self._gst.PadProbeReturn.OK


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
            self._runs, self.description, self._deliverer(loop), self.frames, self._notices
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
                run.run,
                NULL_TIMEOUT_S,
            )
        elif not teardown.cancelled() and (error := teardown.exception()) is not None:
            logger.error("pipeline: run %d teardown failed", run.run, exc_info=error)

    async def _watch(self, run: PipelineRun) -> str:
        while True:
            base = run.last_encoded if run.last_encoded is not None else run.started
            remaining = base + self._stall_s - time.monotonic()
            if remaining <= 0:
                return f"no encoded buffer for {self._stall_s:g} s"
            # Not `asyncio.wait_for`: on Python 3.11 it returns the notice and drops a
            # cancellation that arrives while the notice is handed over, which is just when
            # a stop's EOS notice and the stop's cancel meet; `run()` then parked for good.
            try:
                async with asyncio.timeout(remaining):
                    notice = await self._notices.get()
            except TimeoutError:
                continue
            if notice.run == run.run:
                return f"{notice.kind}: {notice.detail}"

    async def stop(self) -> None:
        """EOS into the current run and wait for it (at most EOS_TIMEOUT_S), so flvmux and
        rtmp2sink end the stream properly; the caller then cancels `run()` (NULL)."""
        self._stopping.set()
        run = self._current
        if run is None or run.state == "NULL":
            return
        logger.debug("pipeline: EOS (run %d, %s)", run.run, run.state)
        await self._glib.call(run.send_eos)
        ended = await asyncio.to_thread(run.eos.wait, EOS_TIMEOUT_S)
        if not ended:
            logger.warning("pipeline: no EOS within %g s; stopping anyway", EOS_TIMEOUT_S)
        else:
            logger.debug("pipeline: EOS reached the sink")

    def close(self) -> None:
        """Quit the GLib loop (after `run()` has ended) and join its thread."""
        self._glib.stop()

    @staticmethod
    def _deliverer(loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], object]], None]:
        def deliver(callback: Callable[[], object]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                loop.call_soon_threadsafe(callback)

        return deliver
