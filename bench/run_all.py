"""`make bench`: every benchmark in turn, then one markdown report on stdout.

    .venv/bin/python bench/run_all.py            # full runs (about 30 minutes)
    .venv/bin/python bench/run_all.py --quick    # smoke run (about 3 minutes)

Progress goes to stderr; the report (machine, then one table per benchmark) to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import agent_resources
import clip_latency
import motion
import segmenter_cpu
import streams_per_host
from _common import machine, markdown_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows, one repeat")
    args = parser.parse_args(argv)
    extra = ["--quick"] if args.quick else []

    info = machine()
    cpu_args = segmenter_cpu.parse_args(extra)
    print("bench: segmenter CPU per stream...", file=sys.stderr)
    cpu = segmenter_cpu.measure(cpu_args)
    host_args = streams_per_host.parse_args(extra)
    print("bench: cameras per host...", file=sys.stderr)
    host = streams_per_host.measure(host_args)

    clip_args = clip_latency.parse_args(extra)
    print("bench: clip latency...", file=sys.stderr)
    clips = clip_latency.measure(clip_args)
    motion_args = motion.parse_args(extra)
    print("bench: motion detection per frame...", file=sys.stderr)
    frames = motion.measure(motion_args)
    agent_args = agent_resources.parse_args(extra)
    print("bench: agent CPU and memory...", file=sys.stderr)
    agent = agent_resources.measure(agent_args)

    print("## Machine\n")
    print(markdown_table(["", ""], [[k, v] for k, v in info.items()]))
    print(f"\n## Segmenter CPU per stream ({cpu_args.window:g}-s window)\n")
    print(segmenter_cpu.markdown(cpu))
    print(f"\n## Cameras per host ({host_args.window:g}-s window)\n")
    print(streams_per_host.markdown(host, host_args.window))
    print("\n## Clip latency over HTTP\n")
    print(clip_latency.markdown(clips))
    print("\n## Motion detection per frame\n")
    print(motion.markdown(frames))
    print("\n## Agent CPU and memory\n")
    print(agent_resources.markdown(agent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
