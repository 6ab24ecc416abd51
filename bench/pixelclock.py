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

import numpy as np
import numpy.typing as npt

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="rtmp://HOST:PORT/live/CAMERA?key=KEY")
    parser.add_argument("--seconds", type=float, default=0, help="stop after N s (0: never)")
    args = parser.parse_args(argv)
    publish(args.url, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
