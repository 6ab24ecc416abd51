"""Benchmark: motion detection cost per frame (`agent.motion.MotionDetector.update`).

A realistic sequence per size: a static textured view with Gaussian sensor noise, and a
bright object that crosses it, then leaves it still for a while, over and over. Frames are
made beforehand; only `update` is timed: wall time (perf_counter_ns) and the thread's CPU
time (thread_time_ns) around each call, the second less disturbed by other load on a shared
machine. Every run starts a fresh detector; median and p95 are over all frames of all runs.

    .venv/bin/python bench/motion.py            # 5 runs of 500 frames per case
    .venv/bin/python bench/motion.py --quick    # 2 runs of 200 frames
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from _common import machine, markdown_table

from agent.config import MotionSettings
from agent.motion import MotionDetector

SIZES = ((160, 120), (320, 240))
FPS = 5
# A porch: the lower two thirds of the view, narrowing towards the door.
PORCH = (((0.0, 1.0), (0.0, 0.55), (0.35, 0.3), (0.65, 0.3), (1.0, 0.55), (1.0, 1.0)),)


@dataclass(frozen=True, slots=True)
class Case:
    width: int
    height: int
    zoned: bool
    runs: int
    frames: int
    micros: list[float]  # wall time of every frame, all runs
    cpu_micros: list[float]  # CPU time of this thread, same frames
    events: int  # per run (the same sequence each run)

    @property
    def median_us(self) -> float:
        return statistics.median(self.micros)

    @property
    def p95_us(self) -> float:
        return float(np.percentile(self.micros, 95))

    @property
    def cpu_median_us(self) -> float:
        return statistics.median(self.cpu_micros)

    @property
    def cpu_p95_us(self) -> float:
        return float(np.percentile(self.cpu_micros, 95))


def sequence(width: int, height: int, frames: int, seed: int = 1) -> list[np.ndarray]:
    """Noise on a static textured view, with an object crossing it every 100 frames."""
    rng = np.random.default_rng(seed)
    scene = rng.uniform(60, 180, (height, width))
    side = width // 10
    out = []
    for i in range(frames):
        image = scene.copy()
        phase = i % 100
        if phase < 40:  # 40 frames moving, 60 still
            x = int((width - side) * phase / 40)
            y = height // 2
            image[y : y + side, x : x + side] = 230.0
        image += rng.normal(0.0, 3.5, image.shape)
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return out


def one_case(width: int, height: int, zoned: bool, runs: int, frames: int) -> Case:
    settings = MotionSettings(zones=PORCH if zoned else ())
    video = sequence(width, height, frames)
    micros: list[float] = []
    cpu_micros: list[float] = []
    events = 0
    for _ in range(runs):
        detector = MotionDetector(settings)
        events = 0
        for i, frame in enumerate(video):
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            event = detector.update(frame, i * 1000 // FPS)
            micros.append((time.perf_counter_ns() - t0) / 1000)
            cpu_micros.append((time.thread_time_ns() - c0) / 1000)
            events += event is not None
    return Case(width, height, zoned, runs, frames, micros, cpu_micros, events)


def measure(args: argparse.Namespace) -> list[Case]:
    results = []
    for width, height in SIZES:
        for zoned in (False, True):
            case = one_case(width, height, zoned, args.runs, args.frames)
            print(
                f"motion: {width}x{height} {'porch zone' if zoned else 'whole frame'}: "
                f"median {case.median_us:.0f} us, p95 {case.p95_us:.0f} us "
                f"(CPU {case.cpu_median_us:.0f} / {case.cpu_p95_us:.0f} us)",
                file=sys.stderr,
            )
            results.append(case)
    return results


def markdown(results: list[Case]) -> str:
    header = [
        "frame",
        "zone",
        "median per frame (us)",
        "p95 per frame (us)",
        "CPU median / p95 (us)",
        f"one core at {FPS} fps (CPU median)",
        "events per run",
        "frames timed",
    ]
    rows = [
        [
            f"{c.width}x{c.height}",
            "porch polygon" if c.zoned else "whole frame",
            f"{c.median_us:.0f}",
            f"{c.p95_us:.0f}",
            f"{c.cpu_median_us:.0f} / {c.cpu_p95_us:.0f}",
            f"{c.cpu_median_us * FPS / 1e4:.2f} %",
            str(c.events),
            f"{c.runs} x {c.frames}",
        ]
        for c in results
    ]
    return markdown_table(header, rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh detectors per case")
    parser.add_argument("--frames", type=int, default=500, help="frames per run")
    parser.add_argument("--quick", action="store_true", help="2 runs of 200 frames")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.frames = 2, 200
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = [[k, v] for k, v in machine().items()] + [["numpy", np.__version__]]
    results = measure(args)
    print(markdown_table(["", ""], info))
    print()
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
