"""One run of the pipeline, from PLAYING to NULL: its bus handler, the motion appsink and the
encoded-buffer probe, and what they hand to asyncio (motion frames, notices).

Threads: every method runs on the GLib thread (agent/glib.py), which owns every state change
and watches the bus with one "message" handler; only the streaming-thread callbacks
(`_on_sample`, `_on_encoded`) do not, and they only copy motion frames and stamp the last
encoded buffer's time, never change state. What asyncio must see crosses through
`loop.call_soon_threadsafe` into bounded queues that drop their oldest entry when full
(frames: the newest matter; notices: the watchdog only needs to know that the run failed,
and a newer notice says so as well as an older one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from agent.errors import PipelineError
from agent.gst import GLib, Gst
from agent.pipeline import ENCODED, MOTION
from common.clock import wall_ms

logger = logging.getLogger(__name__)

T = TypeVar("T")
Frame = tuple[npt.NDArray[np.uint8], int]  # GRAY8 frame, capture time (UTC epoch ms)
NoticeKind = Literal["error", "eos"]
# Runs a callback on the event loop's thread, from any thread.
Deliver = Callable[[Callable[[], object]], None]


@dataclass(frozen=True, slots=True)
class Notice:
    """A bus message the watchdog acts on, tagged with the run it came from."""

    run_id: int
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


def threadsafe_deliverer(loop: asyncio.AbstractEventLoop) -> Deliver:
    """`loop.call_soon_threadsafe`, quiet once the loop has closed (at shutdown)."""

    def deliver(callback: Callable[[], object]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            loop.call_soon_threadsafe(callback)

    return deliver


class PipelineRun:
    """One parsed pipeline, from PLAYING to NULL. Every method runs on the GLib thread except
    the streaming-thread callbacks (`_on_sample`, `_on_encoded`)."""

    def __init__(
        self,
        run_id: int,
        description: str,
        deliver: Deliver,
        frames: asyncio.Queue[Frame],
        notices: asyncio.Queue[Notice],
    ) -> None:
        self.run_id = run_id  # the number of this run since the agent started, from 1
        self._description = description
        self._deliver = deliver
        self._frames = frames
        self._notices = notices
        self._pipeline: Gst.Pipeline | None = None
        self._bus: Gst.Bus | None = None
        self._handlers: list[tuple[Gst.Object, int]] = []  # (object, signal handler id)
        self._probes: list[tuple[Gst.Pad, int]] = []  # (pad, probe id)
        self.state = "NULL"
        self.started = time.monotonic()
        self.last_encoded: float | None = None  # time.monotonic() of the last encoded buffer
        self.encoded_buffers = 0
        self.frames = 0
        self.eos = threading.Event()

    def start(self) -> None:
        """Parse, connect the bus, the appsink and the probe, then PLAYING. Raises
        PipelineError when the description cannot be built here."""
        try:
            element = Gst.parse_launch(self._description)
        except GLib.Error as exc:  # a missing element or bad syntax
            raise PipelineError(f"cannot build the pipeline: {exc.message}") from exc
        if not isinstance(element, Gst.Pipeline):
            element.set_state(Gst.State.NULL)
            raise PipelineError(
                f"the description is one element, not a pipeline: {element.get_name()}"
            )
        pipeline = self._pipeline = element
        bus = self._bus = pipeline.get_bus()
        bus.add_signal_watch()
        self._handlers.append((bus, bus.connect("message", self._on_message)))
        appsink = _named(pipeline, MOTION)
        self._handlers.append((appsink, appsink.connect("new-sample", self._on_sample)))
        pad = _named(pipeline, ENCODED).get_static_pad("src")
        if pad is None:
            raise PipelineError(f"element {ENCODED!r} has no src pad")
        self._probes.append((pad, pad.add_probe(Gst.PadProbeType.BUFFER, self._on_encoded)))
        self.started = time.monotonic()
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._notify("error", "cannot set the pipeline to PLAYING")

    def send_eos(self) -> None:
        if self._pipeline is not None:
            self._pipeline.send_event(Gst.Event.new_eos())

    def teardown(self) -> None:
        """To NULL, then every handler, probe and the bus watch removed."""
        if self._pipeline is None:
            return
        self._pipeline.set_state(Gst.State.NULL)
        for pad, probe in self._probes:
            pad.remove_probe(probe)
        for obj, handler in self._handlers:
            obj.disconnect(handler)
        if self._bus is not None:
            self._bus.remove_signal_watch()
        self._probes.clear()
        self._handlers.clear()
        self._pipeline = self._bus = None
        self.state = "NULL"

    # --- the one bus handler (GLib thread) ---
    def _on_message(self, _bus: Gst.Bus, message: Gst.Message) -> None:
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
            logger.debug("pipeline run %d: %s", self.run_id, self.state)

    def _notify(self, kind: NoticeKind, detail: str) -> None:
        notice = Notice(self.run_id, kind, detail)
        self._deliver(functools.partial(put_dropping_oldest, self._notices, notice))

    # --- streaming threads: copy, stamp, hand over; never a state change ---
    def _on_sample(self, sink: Gst.Element) -> Gst.FlowReturn:
        sample: Gst.Sample | None = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        at_ms = wall_ms()
        caps, buffer = sample.get_caps(), sample.get_buffer()
        if caps is None or buffer is None:
            return Gst.FlowReturn.OK
        structure = caps.get_structure(0)
        (has_width, width), (has_height, height) = (
            structure.get_int("width"),
            structure.get_int("height"),
        )
        if not (has_width and has_height):
            return Gst.FlowReturn.OK
        # pygobject-stubs 2.16 type Buffer.map() as a MapInfo without `data` and its
        # (ok, info) unpacking as untyped; PyGObject's override returns both.
        mapped: Any = buffer.map(Gst.MapFlags.READ)
        ok, info = mapped
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

    def _on_encoded(self, _pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        self.last_encoded = time.monotonic()
        self.encoded_buffers += 1
        return Gst.PadProbeReturn.OK


def _named(pipeline: Gst.Pipeline, name: str) -> Gst.Element:
    element = pipeline.get_by_name(name)
    if element is None:
        raise PipelineError(f"the pipeline has no element named {name!r}")
    return element
