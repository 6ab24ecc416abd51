"""A publisher whose frames carry the wall clock, for glass-to-glass latency read off pixels.

Each frame shows, in a band across its top, the wall-clock time it was made (UTC epoch ms,
its low 32 bits) as 32 black or white cells, most significant bit first, with a white and a
black reference cell at the ends of a second band. A player that draws a presented frame to
a canvas reads the time back (`decode`, and the same arithmetic in the benchmark's page
script) and subtracts it from its own clock: the delay from "glass" (the frame being made)
to "glass" (the frame on screen). The frames are made at real time, encoded like the
doorbell's test profile (x264, a keyframe every second, no B-frames) and published over RTMP.

    .venv/bin/python bench/pixelclock.py rtmp://127.0.0.1:1935/live/front?key=KEY
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from playwright.sync_api import JSHandle

WIDTH, HEIGHT, FPS = 640, 360, 25
BITS = 32
CELL = WIDTH // BITS  # 20 px
BAND = 40  # px: the bits' band, then the reference band below it
GRAY = 96  # the rest of the frame


def frame_i420(now_ms: int) -> bytes:
    """One I420 frame showing `now_ms` (a moving bar below the bands keeps it "live")."""
    luma = np.full((HEIGHT, WIDTH), GRAY, dtype=np.uint8)
    value = now_ms & 0xFFFFFFFF
    for bit in range(BITS):
        on = (value >> (BITS - 1 - bit)) & 1
        luma[0:BAND, bit * CELL : (bit + 1) * CELL] = 235 if on else 16
    luma[BAND : 2 * BAND, 0:CELL] = 235  # white reference
    luma[BAND : 2 * BAND, WIDTH - CELL : WIDTH] = 16  # black reference
    x = (now_ms // 8) % WIDTH
    luma[2 * BAND + 40 : 2 * BAND + 120, max(x - 30, 0) : x] = 200
    chroma = np.full((HEIGHT // 2) * (WIDTH // 2) * 2, 128, dtype=np.uint8)
    return luma.tobytes() + chroma.tobytes()


def decode(luma: npt.NDArray[np.uint8]) -> int | None:
    """The clock a frame shows (low 32 bits of epoch ms), from its luma plane at any size;
    None if the reference cells are not white and black (not one of our frames)."""
    height, width = luma.shape
    scale_x, scale_y = width / WIDTH, height / HEIGHT

    def sample(cx: float, cy: float) -> float:
        x, y = int(cx * scale_x), int(cy * scale_y)
        return float(luma[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3].mean())

    white = sample(CELL / 2, BAND * 1.5)
    black = sample(WIDTH - CELL / 2, BAND * 1.5)
    if white - black < 100:
        return None
    threshold = (white + black) / 2
    value = 0
    for bit in range(BITS):
        value = (value << 1) | int(sample(bit * CELL + CELL / 2, BAND / 2) > threshold)
    return value


def delay_ms(shown: int, now_ms: int) -> int:
    """`now_ms` minus the time a frame shows, across the 32-bit wrap (every ~49.7 days)."""
    return (now_ms - shown) % (1 << BITS)


# `decode` and `delay_ms` in a page: reads the clock off every frame `video` presents for
# `seconds` (`requestVideoFrameCallback`, drawn to a canvas) and resolves to the delays in ms
# (the frame's expected display time, on the wall clock, minus the clock it shows).
READ_DELAYS_JS = """(video, seconds) => new Promise((resolve) => {
  const W = 320, H = 180, canvas = document.createElement("canvas");
  canvas.width = W; canvas.height = H;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const delays = [], end = performance.now() + seconds * 1000;
  // The page's clock (timeOrigin + monotonic time) drifts from the wall clock the frames
  // carry (NTP slews one, not the other): measured once, added to every display time.
  const skew = Date.now() - (performance.timeOrigin + performance.now());
  const step = (_now, meta) => {
    g.drawImage(video, 0, 0, W, H);
    const d = g.getImageData(0, 0, W, H).data;
    const luma = (x, y) => {
      const i = (Math.floor(y * H / 360) * W + Math.floor(x * W / 640)) * 4;
      return (d[i] + d[i + 1] + d[i + 2]) / 3;
    };
    const white = luma(10, 60), black = luma(630, 60);
    if (white - black > 100) {
      const threshold = (white + black) / 2;
      let shown = 0;
      for (let bit = 0; bit < 32; bit++) {
        shown = shown * 2 + (luma(bit * 20 + 10, 20) > threshold ? 1 : 0);
      }
      const displayed = performance.timeOrigin + meta.expectedDisplayTime + skew;
      delays.push(((displayed % 2 ** 32) - shown + 2 ** 32) % 2 ** 32);
    }
    if (performance.now() < end) video.requestVideoFrameCallback(step);
    else resolve(delays);
  };
  video.requestVideoFrameCallback(step);
})"""


def read_delays(video: JSHandle, seconds: float) -> list[float]:
    """Glass-to-glass delays (ms) of the frames a page's `<video>` presents for `seconds`;
    SystemExit when fewer than 10 a second could be read (the player stalled)."""
    delays: list[float] = video.evaluate(READ_DELAYS_JS, seconds)
    if len(delays) < seconds * 10:
        raise SystemExit(f"bench: only {len(delays)} frames read in {seconds:g} s")
    return delays


def publish(url: str, seconds: float, stop: threading.Event | None = None) -> None:
    """Make frames at real time and publish them to `url` until `seconds` pass (0: forever)
    or `stop` is set."""
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"appsrc name=src is-live=true format=time do-timestamp=true "
        f"caps=video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate={FPS}/1 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 key-int-max={FPS} "
        f"bframes=0 ! video/x-h264,profile=constrained-baseline ! h264parse ! "
        f'flvmux streamable=true ! rtmp2sink location="{url}"'
    )
    assert isinstance(pipeline, Gst.Bin)
    source = pipeline.get_by_name("src")
    bus = pipeline.get_bus()
    assert source is not None
    assert bus is not None
    pipeline.set_state(Gst.State.PLAYING)
    stop = stop or threading.Event()
    started = time.monotonic()
    frames = 0
    try:
        while not stop.is_set() and (seconds <= 0 or time.monotonic() - started < seconds):
            due = started + frames / FPS
            time.sleep(max(0.0, due - time.monotonic()))  # real time, like a camera
            source.emit("push-buffer", Gst.Buffer.new_wrapped(frame_i420(time.time_ns() // 10**6)))
            frames += 1
    finally:
        source.emit("end-of-stream")
        bus.timed_pop_filtered(3 * Gst.SECOND, Gst.MessageType.EOS)
        pipeline.set_state(Gst.State.NULL)


def relay_delays(url: str, seconds: float) -> list[int]:
    """The clock's delay at an RTMP server: frames played from `url` for `seconds` (after a
    second of catch-up), decoded here at once (no jitter buffer, no display), each `delay_ms`
    when it leaves the decoder.
    The part of a player's glass to glass spent before the server (encoder, RTMP, relay)."""
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    pipeline = Gst.parse_launch(
        # One decoding thread: frame threading would hold each frame back a frame or more.
        f'rtmp2src location="{url}" ! flvdemux ! h264parse ! avdec_h264 max-threads=1 '
        "! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false max-buffers=50"
    )
    assert isinstance(pipeline, Gst.Bin)
    sink = pipeline.get_by_name("sink")
    assert sink is not None
    pipeline.set_state(Gst.State.PLAYING)
    delays: list[int] = []
    # The first second out of the decoder is the relay's catch-up, not steady state.
    settled = time.monotonic() + 1.0
    end = settled + seconds
    try:
        while time.monotonic() < end:
            sample = sink.emit("try-pull-sample", Gst.SECOND)
            if sample is None or time.monotonic() < settled:
                continue
            now = time.time_ns() // 10**6
            structure = sample.get_caps().get_structure(0)
            width, height = structure.get_value("width"), structure.get_value("height")
            ok, info = sample.get_buffer().map(Gst.MapFlags.READ)
            if not ok:
                continue
            stride = len(info.data) // height
            plane = np.frombuffer(info.data, dtype=np.uint8).reshape(height, stride)[:, :width]
            shown = decode(plane)
            sample.get_buffer().unmap(info)
            if shown is not None:
                delays.append(delay_ms(shown, now))
    finally:
        pipeline.set_state(Gst.State.NULL)
    return delays


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="rtmp://HOST:PORT/live/CAMERA?key=KEY")
    parser.add_argument("--seconds", type=float, default=0, help="stop after N s (0: never)")
    args = parser.parse_args(argv)
    publish(args.url, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
