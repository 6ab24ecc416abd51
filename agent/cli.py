"""`doorbell-agent`: the doorbell's command line. For now: `simulate`, the test camera."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from agent.simcam import Simcam, SimcamOptions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="doorbell-agent", description=__doc__)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="publish a synthetic camera over RTMP")
    sim.add_argument("--url", required=True, help="rtmp://HOST:1935/live/CAMERA?key=STREAM_KEY")
    sim.add_argument("--width", type=int, default=640)
    sim.add_argument("--height", type=int, default=480)
    sim.add_argument("--fps", type=int, default=25, choices=range(1, 61), metavar="1-60")
    sim.add_argument("--bitrate", type=int, default=1500, help="kbit/s")
    sim.add_argument("--pattern", default="ball", choices=["ball", "smpte", "black", "snow"])
    sim.add_argument("--seconds", type=float, default=0, help="stop after N s (0: never)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = SimcamOptions(
        url=args.url,
        width=args.width,
        height=args.height,
        fps=args.fps,
        bitrate_kbps=args.bitrate,
        pattern=args.pattern,
    )
    return Simcam(options).run(args.seconds)


if __name__ == "__main__":
    raise SystemExit(main())
