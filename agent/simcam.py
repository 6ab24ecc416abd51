"""A simulated doorbell camera: a live GStreamer test scene encoded with x264 (1-s GOP) and
published over RTMP, for the demo and the tests. The agent issue grows this into the agent."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from typing import Any

from agent.gst import gst

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EOS_TIMEOUT_S = 3


@dataclass(frozen=True, slots=True)
class SimcamOptions:
    url: str
    width: int = 640
    height: int = 480
    fps: int = 25
    bitrate_kbps: int = 1500
    pattern: str = "ball"


def pipeline_description(o: SimcamOptions) -> str:
    """gst-launch syntax for the simulated camera (pure).

    `format=I420` matters: without it x264enc picks High 4:4:4 that phones cannot decode.
    `key-int-max=fps` gives the 1-s GOP that the server's 1-s segments rely on.
    """
    location = o.url.replace('"', "")
    return (
        f"videotestsrc is-live=true pattern={o.pattern} "
        f"! video/x-raw,format=I420,width={o.width},height={o.height},framerate={o.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={o.fps} "
        f"bitrate={o.bitrate_kbps} "
        "! h264parse config-interval=-1 "
        "! flvmux streamable=true "
        f'! rtmp2sink name=sink location="{location}"'
    )


class Simcam:
    """Runs the pipeline in a GLib main loop on the calling thread until EOS, error or signal."""

    def __init__(self, options: SimcamOptions) -> None:
        self.options = options
        self._gst, self._glib = gst()
        self._loop: Any = None
        self._pipeline: Any = None
        self._exit = EXIT_OK
        self._stopping = False
        # One-shot GLib timeouts still pending; a fired one removes itself (returns False).
        self._timeouts: set[int] = set()

    def run(self, seconds: float = 0) -> int:
        Gst, GLib = self._gst, self._glib
        self._pipeline = Gst.parse_launch(pipeline_description(self.options))
        self._loop = GLib.MainLoop()
        bus = self._pipeline.get_bus()
        bus.add_signal_watch()
        handler = bus.connect("message", self._on_message)
        sources = [
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self._on_signal),
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self._on_signal),
        ]
        if seconds > 0:
            self._after(int(seconds * 1000), self._on_signal)
        self._pipeline.set_state(Gst.State.PLAYING)
        logger.info("simcam: publishing to %s", _redact(self.options.url))
        try:
            self._loop.run()
        finally:
            for source in sources + list(self._timeouts):
                GLib.source_remove(source)
            bus.disconnect(handler)
            bus.remove_signal_watch()
            self._pipeline.set_state(Gst.State.NULL)
        return self._exit

    def _on_signal(self) -> bool:
        """Stop cleanly: EOS first (flvmux finishes the stream), then NULL; bounded."""
        if not self._stopping:
            self._stopping = True
            self._pipeline.send_event(self._gst.Event.new_eos())
            self._after(EOS_TIMEOUT_S * 1000, self._force_quit)
        return True  # keep the signal sources; they are removed when run() ends

    def _after(self, ms: int, callback: Any) -> None:
        """Call `callback` once after `ms`, tracked so run() removes it if still pending."""

        def fire() -> bool:
            self._timeouts.discard(source)
            callback()
            return False

        source: int = self._glib.timeout_add(ms, fire)
        self._timeouts.add(source)

    def _force_quit(self) -> bool:
        logger.warning("simcam: no EOS within %ds; stopping anyway", EOS_TIMEOUT_S)
        self._loop.quit()
        return False

    def _on_message(self, _bus: Any, message: Any) -> None:
        Gst = self._gst
        if message.type == Gst.MessageType.EOS:
            self._loop.quit()
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            logger.error("simcam: %s (%s)", error.message, debug)
            self._exit = EXIT_ERROR
            self._loop.quit()


def _redact(url: str) -> str:
    head, sep, _ = url.partition("?")
    return f"{head}{sep}..." if sep else url
