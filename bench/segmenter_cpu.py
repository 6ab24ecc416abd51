"""Benchmark: segmenter CPU per stream, our stream copy vs the original libx264 re-encode.

One private nginx-rtmp relay. Per input and repeat, one publisher sends a pre-encoded file
in real time, and both segmenters pull that same stream *concurrently* from the relay:
ours is the exact argv of `segmenter.ffmpeg.segmenter_argv`, the original is the seed
README's `ffmpeg -i rtmp://... -c:v libx264 -f segment ...`. Once both have written a
first file and a warm-up has passed, each process's utime+stime (/proc/PID/stat, all
threads) is read at both ends of a steady-state window: CPU % of one core.

    .venv/bin/python bench/segmenter_cpu.py            # 3 repeats, 30-s window
    .venv/bin/python bench/segmenter_cpu.py --quick    # 1 repeat, 8-s window
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import (
    cpu_seconds,
    encode,
    ffmpeg_bin,
    markdown_table,
    private_relay,
    publisher_argv,
    stop,
    tail,
    wait_until,
)

from segmenter.ffmpeg import segmenter_argv

KINDS = ("static", "noise")
FIRST_FILE_TIMEOUT_S = 30.0


def original_argv(ffmpeg: str, url: str, directory: Path) -> list[str]:
    """The seed README's segmenter, verbatim but for the URL and directory."""
    return [
        ffmpeg, "-i", url, "-c:v", "libx264", "-f", "segment", "-segment_time", "1",
        "-reset_timestamps", "1", "-strftime", "1",
        str(directory / "segment-%Y%m%d-%H%M%S.ts"),
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Repeat:
    ours_pct: float
    original_pct: float
    ours_files: int  # segment files started inside the window
    original_files: int
    original_durations: list[float]  # seconds, every finished file of the original


@dataclass(frozen=True, slots=True)
class InputResult:
    kind: str
    window_s: float
    repeats: list[Repeat]

    @property
    def ours_pct(self) -> float:
        return statistics.median(r.ours_pct for r in self.repeats)

    @property
    def original_pct(self) -> float:
        return statistics.median(r.original_pct for r in self.repeats)

    @property
    def ratio(self) -> float:
        return self.original_pct / self.ours_pct if self.ours_pct else float("inf")

    def original_segments(self) -> str:
        """Median length of the original's finished files, and the range."""
        durations = [d for r in self.repeats for d in r.original_durations]
        if not durations:
            return "none finished"
        median = statistics.median(durations)
        return f"{median:.1f} s ({min(durations):.1f}-{max(durations):.1f}, n={len(durations)})"


def _ts_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.ts"))


def _duration(path: Path) -> float | None:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    ).stdout.strip()
    try:
        return float(out)
    except ValueError:
        return None


def one_repeat(source: Path, port: int, name: str, window_s: float, warmup_s: float) -> Repeat:
    ffmpeg = ffmpeg_bin()
    url = f"rtmp://127.0.0.1:{port}/live/{name}"
    # Segments go to tmpfs, as in production (/dev/shm/doorbell).
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-cpu-", dir="/dev/shm") as tmp:
        work = Path(tmp)
        ours_dir, original_dir = work / "ours", work / "original"
        ours_dir.mkdir()
        original_dir.mkdir()
        logs = {n: (work / f"{n}.log").open("wb") for n in ("publisher", "ours", "original")}
        listing = (work / "ours.csv").open("wb")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(
                subprocess.Popen(
                    publisher_argv(source, url, loop=True),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=logs["publisher"],
                )
            )
            # A player that comes before the publisher just waits (idle_streams is on here).
            ours = subprocess.Popen(
                segmenter_argv(ffmpeg, url, ours_dir, 0),
                stdin=subprocess.DEVNULL,
                stdout=listing,
                stderr=logs["ours"],
            )
            original = subprocess.Popen(
                original_argv(ffmpeg, url, original_dir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=logs["original"],
            )
            procs += [ours, original]

            def check_alive() -> None:
                for proc, what in zip(procs, ("publisher", "ours", "original"), strict=True):
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"{what} exited ({proc.returncode}): {tail(work / f'{what}.log')}"
                        )

            def both_started() -> bool:
                check_alive()
                return bool(_ts_files(ours_dir)) and bool(_ts_files(original_dir))

            wait_until("a first segment from both segmenters", both_started, FIRST_FILE_TIMEOUT_S)
            time.sleep(warmup_s)  # let x264's lookahead and rate control settle
            files_before = len(_ts_files(ours_dir)), len(_ts_files(original_dir))
            cpu_before = cpu_seconds(ours.pid), cpu_seconds(original.pid)
            t0 = time.monotonic()
            time.sleep(window_s)  # the measurement window
            cpu_after = cpu_seconds(ours.pid), cpu_seconds(original.pid)
            elapsed = time.monotonic() - t0
            files_after = len(_ts_files(ours_dir)), len(_ts_files(original_dir))
            check_alive()
        finally:
            stop(procs[1:])  # segmenters first, so they do not see the publisher vanish
            stop(procs[:1])
            for f in (*logs.values(), listing):
                f.close()
        used = [
            100.0 * ((after or 0.0) - (before or 0.0)) / elapsed
            for before, after in zip(cpu_before, cpu_after, strict=True)
        ]
        # The last file was cut short by the stop: only the finished ones tell the length.
        durations = [d for f in _ts_files(original_dir)[:-1] if (d := _duration(f)) is not None]
        return Repeat(
            ours_pct=used[0],
            original_pct=used[1],
            ours_files=files_after[0] - files_before[0],
            original_files=files_after[1] - files_before[1],
            original_durations=durations,
        )


def measure(args: argparse.Namespace) -> list[InputResult]:
    """Encode the inputs, start the relay, run every repeat; results per input."""
    repeats: dict[str, list[Repeat]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-media-") as tmp:
        sources = {k: encode(k, Path(tmp) / f"{k}.flv", args.input_seconds) for k in KINDS}
        with private_relay() as port:
            for r in range(args.repeats):
                order = KINDS if r % 2 == 0 else KINDS[::-1]  # alternate which input goes first
                for kind in order:
                    result = one_repeat(sources[kind], port, f"{kind}{r}", args.window, args.warmup)
                    print(
                        f"segmenter_cpu: {kind} repeat {r + 1}/{args.repeats}: ours "
                        f"{result.ours_pct:.2f}%, original {result.original_pct:.1f}% of a core",
                        file=sys.stderr,
                    )
                    repeats[kind].append(result)
    return [InputResult(kind, args.window, repeats[kind]) for kind in KINDS]


def markdown(results: list[InputResult]) -> str:
    header = [
        "input",
        "ours: -c copy (% of one core)",
        "original: libx264 (% of one core)",
        "original / ours",
        "segments in window: ours / original",
        "original's segment length",
    ]
    rows = [
        [
            f"{r.kind} (median of {len(r.repeats)})",
            f"{r.ours_pct:.2f}",
            f"{r.original_pct:.1f}",
            f"{r.ratio:.0f}x",
            f"{statistics.median(x.ours_files for x in r.repeats):g} / "
            f"{statistics.median(x.original_files for x in r.repeats):g} in {r.window_s:g} s",
            r.original_segments(),
        ]
        for r in results
    ]
    return markdown_table(header, rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats per input (median)")
    parser.add_argument("--window", type=float, default=30.0, help="measurement window, s")
    parser.add_argument("--warmup", type=float, default=3.0, help="after the first files, s")
    parser.add_argument("--input-seconds", type=float, default=60.0, help="encoded input length, s")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 8-s window")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.window, args.warmup, args.input_seconds = 1, 8.0, 2.0, 20.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    print(markdown(measure(parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
