"""Clip latency: the server's clip endpoint over HTTP against the original approach.

The original system answered a clip request by running ffmpeg's concat demuxer over the
segment files into a faststart MP4 and then sending that file. Both run here on the same
synthetic 15-minute buffer (lavfi, 640x480, 25 fps, 1-s GOP, ~1.5 Mbit/s CBR), over HTTP on
loopback, for 30-, 300- and 900-s clips: time to first byte, total, MB/s, ratio. Every
request asks for a different range, so neither side answers from a cache.

The buffer is laid down as the segmenter leaves it: segment files plus sidecar lines with
each segment's sample index (`segmenter.formats.samples.index_file`, what ingest runs once per
segment). That indexing is timed here too: its CPU per segment and its bytes are the cost
of the concatenating clip path.

    .venv/bin/python bench/clip_latency.py            # 5 repeats (1-2 minutes)
    .venv/bin/python bench/clip_latency.py --quick    # 1 repeat
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from _common import ffmpeg_bin, free_port, machine, markdown_table, wait_until
from streams_per_host import Server

from segmenter.formats.samples import index_file

LENGTHS_S = (30, 300, 900)
SPARE_S = 10  # segments beyond 900 s, so every repeat of the longest clip is a new range
CAMERA = "bench"
CURL = shutil.which("curl") or "curl"


@dataclass
class IngestCost:
    """Indexing each segment at ingest: thread CPU seconds, index and sidecar-line bytes."""

    cpu_s: list[float]
    index_bytes: list[int]
    line_bytes: list[int]
    plain_line_bytes: list[int]


def build_buffer(directory: Path, seconds: int) -> tuple[list[dict[str, object]], IngestCost]:
    """`seconds` one-second segments ending now, and the sidecar the segmenter would write
    (with each segment's sample index, timed as ingest would make it)."""
    directory.mkdir(parents=True)
    subprocess.run(
        [ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc2=s=640x480:r=25", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1500k", "-maxrate", "1500k",
         "-minrate", "1500k", "-bufsize", "1500k", "-x264-params", "nal-hrd=cbr",
         "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
         "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
         str(directory / "seq-%09d.ts")],
        check=True, timeout=900, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    files = sorted(directory.glob("seq-*.ts"))
    end = time.time_ns() // 1_000_000
    start = end - 1000 * len(files)
    rows: list[dict[str, object]] = []
    cost = IngestCost([], [], [], [])
    for i, f in enumerate(files):
        row: dict[str, object] = {
            "seq": i, "session": 1, "start_ms": start + i * 1000,
            "end_ms": start + (i + 1) * 1000, "size": f.stat().st_size, "keyframe_start": True,
            "file": f.name,
        }  # fmt: skip
        cost.plain_line_bytes.append(len(json.dumps(row, separators=(",", ":"))) + 1)
        began = time.thread_time()
        samples = index_file(f)
        cost.cpu_s.append(time.thread_time() - began)
        if samples is None:
            raise RuntimeError(f"{f.name} could not be indexed")
        row["samples"] = samples.encode()
        cost.index_bytes.append(len(samples.blob))
        cost.line_bytes.append(len(json.dumps(row, separators=(",", ":"))) + 1)
        rows.append(row)
    (directory / "index.jsonl").write_text(
        "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    )
    return rows, cost


class OriginalClips(BaseHTTPRequestHandler):
    """GET /clip?first=N&last=M: ffmpeg concat demuxer -> faststart MP4 -> send the file."""

    segments: Path
    work: Path

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        first, last = int(query["first"][0]), int(query["last"][0])
        job = Path(tempfile.mkdtemp(dir=self.work))
        listing = job / "list.txt"
        listing.write_text(
            "".join(f"file '{self.segments / f'seq-{i:09d}.ts'}'\n" for i in range(first, last + 1))
        )
        out = job / "clip.mp4"
        subprocess.run(
            [ffmpeg_bin(), "-nostdin", "-loglevel", "error", "-f", "concat", "-safe", "0",
             "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(out)],
            check=True, timeout=600,
        )  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(out.stat().st_size))
        self.end_headers()
        with out.open("rb") as f:
            shutil.copyfileobj(f, self.wfile, 1024 * 1024)
        shutil.rmtree(job)

    def log_message(self, *_: object) -> None:
        pass


@dataclass
class Sample:
    ttfb_s: float
    total_s: float
    size: int


def timed_get(url: str, params: dict[str, object], token: str | None) -> Sample:
    """One download with curl (a native client, like a phone's; a Python client would be the
    bottleneck at these rates): time to first byte and total, as curl measures them."""
    argv = [CURL, "-sS", "--fail", "-o", "/dev/null", "-w",
            "%{time_starttransfer} %{time_total} %{size_download}"]  # fmt: skip
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    query = "&".join(f"{k}={v}" for k, v in params.items())
    out = subprocess.run(
        [*argv, f"{url}?{query}"], capture_output=True, text=True, check=True, timeout=600
    )
    ttfb, total, size = out.stdout.split()
    return Sample(float(ttfb), float(total), int(size))


@dataclass
class Row:
    length_s: int
    approach: str
    samples: list[Sample]

    def median(self, pick: Callable[[Sample], float]) -> float:
        return statistics.median(pick(s) for s in self.samples)


@dataclass
class Result:
    rows: list[Row]
    ingest: IngestCost


def measure(args: argparse.Namespace) -> Result:
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-clips-", dir="/dev/shm") as shm, \
            tempfile.TemporaryDirectory(prefix="doorbell-bench-clips-") as work:  # fmt: skip
        buffer_dir, work_dir = Path(shm), Path(work)
        print(f"bench: encoding {max(LENGTHS_S) + SPARE_S} s of video...", file=sys.stderr)
        rows, ingest = build_buffer(buffer_dir / CAMERA, max(LENGTHS_S) + SPARE_S)
        server = Server(work_dir, buffer_dir, {CAMERA: "bench-stream-key-0123456789"}, 3600)
        OriginalClips.segments = buffer_dir / CAMERA
        OriginalClips.work = buffer_dir
        original = ThreadingHTTPServer(("127.0.0.1", free_port()), OriginalClips)
        threading.Thread(target=original.serve_forever, daemon=True).start()
        server.start()
        results: list[Row] = []
        try:
            wait_until("the server", server.healthy, 60, 0.2)
            ours_url = f"http://127.0.0.1:{server.http_port}/api/v1/cameras/{CAMERA}/clip"
            theirs_url = f"http://127.0.0.1:{original.server_address[1]}/clip"
            for length in LENGTHS_S:
                ours, fmp4, theirs = (
                    Row(length, "doorbell mp4", []),
                    Row(length, "doorbell fmp4 (streamed)", []),
                    Row(length, "original: concat demuxer + send", []),
                )
                for repeat in range(repeats):
                    for offset, row, fmt in ((repeat, ours, "mp4"), (repeat + 5, fmp4, "fmp4")):
                        first = rows[offset]
                        last = rows[offset + length - 1]
                        params = {
                            "start": first["start_ms"],
                            "end": last["end_ms"],
                            "format": fmt,
                        }
                        row.samples.append(timed_get(ours_url, params, server.token))
                    params = {"first": repeat, "last": repeat + length - 1}
                    theirs.samples.append(timed_get(theirs_url, params, None))
                    print(
                        f"bench: {length}-s clips, repeat {repeat + 1}/{repeats}",
                        file=sys.stderr,
                    )
                results += [ours, fmp4, theirs]
        finally:
            original.shutdown()
            server.stop()
    return Result(results, ingest)


def ingest_markdown(cost: IngestCost, buffer_s: int = 900) -> str:
    cpu_ms = sorted(c * 1000 for c in cost.cpu_s)
    p95 = cpu_ms[min(len(cpu_ms) - 1, int(0.95 * len(cpu_ms)))]
    index_b = statistics.median(cost.index_bytes)
    plain, line = statistics.median(cost.plain_line_bytes), statistics.median(cost.line_bytes)
    extra_line = line - plain
    return markdown_table(
        ["segments indexed", "CPU per 1-s segment (median / p95)", "% of one core per camera",
         "index in memory per segment", "sidecar line: without / with index",
         f"per camera, {buffer_s}-s buffer: memory + sidecar"],
        [[str(len(cpu_ms)), f"{statistics.median(cpu_ms):.2f} / {p95:.2f} ms",
          f"{statistics.median(cpu_ms) / 10:.3f} %", f"{index_b / 1000:.1f} kB",
          f"{plain:.0f} / {line:.0f} B",
          f"{index_b * buffer_s / 2**20:.1f} MiB + {extra_line * buffer_s / 2**20:.1f}-"
          f"{2 * extra_line * buffer_s / 2**20:.1f} MiB"]],
    )  # fmt: skip


def markdown(result: Result) -> str:
    return (
        clips_markdown(result.rows)
        + "\n\nSample index at ingest:\n\n"
        + ingest_markdown(result.ingest)
    )


def clips_markdown(rows: Sequence[Row]) -> str:
    table = []
    by_length = {(r.length_s, r.approach.split(":")[0]): r for r in rows}
    for row in rows:
        original = by_length[(row.length_s, "original")]
        total = row.median(lambda s: s.total_s)
        ratio = original.median(lambda s: s.total_s) / total
        mb = statistics.median(s.size for s in row.samples) / 1e6
        baseline = row.approach.startswith("original")
        table.append([
            f"{row.length_s} s", row.approach,
            f"{row.median(lambda s: s.ttfb_s) * 1000:.0f} ms", f"{total * 1000:.0f} ms",
            f"{mb / total:.0f}", f"{mb:.1f}", "1.0x" if baseline else f"{ratio:.1f}x",
        ])  # fmt: skip
    return markdown_table(
        [
            "clip",
            "approach",
            "first byte (median)",
            "total (median)",
            "MB/s",
            "MB",
            "faster than original",
        ],
        table,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args)
    print(markdown_table(["", ""], [[k, v] for k, v in machine().items()]))
    print()
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
