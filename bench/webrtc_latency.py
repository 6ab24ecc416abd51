"""WebRTC live view against the app's tuned HLS, in one run: glass to glass read off the
pixels, time to first frame, and the server's CPU and memory per viewer and per camera.

    .venv/bin/python bench/webrtc_latency.py [--rounds 5] [--seconds 15] [--window 15]
                                             [--sweeps 2] [--on-demand] [--json results.json]

The real stack on loopback: `doorbell serve` with its nginx-rtmp relay and media worker
(`python -m liveview`), two cameras each published by bench/pixelclock.py (640x360, 25 fps,
x264, a keyframe every second; every frame shows the wall clock). Debian's Chromium, headless,
loads a bare page on the server's origin (bench/webrtc_page.py) that plays a camera either
over WebRTC (WHEP: a recvonly RTCPeerConnection, the offer POSTed with the API's bearer token,
the answer set, the MediaStream played) or over HLS with hls.js and the app's LIVE_CONFIG
(read from web/src/live/player.ts), the baseline, in the same run.

Latency: `--rounds` rounds, each playing WebRTC and HLS (alternating which goes first) for
`--seconds` after 2 s of play, reading the clock off every presented frame. First frame: from
before the player is made to the first presented frame; for WebRTC, the round's start (with
the server's default `webrtc.warm`, the camera's pull is open before anyone watches; with
`--on-demand`, warm = false, nobody has watched it for longer than the pull's linger: a cold
pull) and a second start right after the first session ended.

Cost: CPU of the media worker, the API process and the relay/segmenters over `--window`
seconds, from /proc (utime+stime), with 0, 1, 5 and 20 viewers of one camera and with two
cameras watched once each; RSS and PSS of the worker and the API. The viewers are
RTCPeerConnections in one page with 16x9 videos. `--sweeps` times, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import wait_until
from app_latency import CHROMIUM_ARGS
from pixelclock import read_delays, relay_delays
from playwright.sync_api import Page, sync_playwright
from webrtc_cost import Scenario, Window, measure_window, worker_pid
from webrtc_page import HLS_JS, live_config, open_page
from webrtc_report import report

from tests.stack.harness import TOKEN, Server, spawn, stop

CAMERAS = {"front": "front-stream-key-0123456789", "back": "back-stream-key-0123456789"}
LINGER_S = 2.0  # the pull's linger: short, so a cold start is 2 s away
SCENARIOS = [
    Scenario("no viewer", {}),
    Scenario("1 viewer", {"front": 1}),
    Scenario("5 viewers", {"front": 5}),
    Scenario("20 viewers", {"front": 20}),
    Scenario("2 cameras, 1 viewer each", {"front": 1, "back": 1}),
]


@dataclass
class Round:
    kind: str  # "webrtc" or "hls"
    marks: dict[str, float]
    delays: list[float]
    receiver: dict[str, Any] | None = None


@dataclass
class Results:
    rounds: list[Round] = field(default_factory=list)
    # The worker's first session (it makes its DTLS certificate then), before the rounds.
    first_session: dict[str, float] = field(default_factory=dict)
    warm: list[dict[str, float]] = field(default_factory=list)  # WebRTC, started again at once
    warm_pulls: bool = True  # webrtc.warm: every online camera pulled before anyone watches
    relay: list[float] = field(default_factory=list)  # the clock decoded off the relay, ms
    windows: list[Window] = field(default_factory=list)
    loadavg: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds (each kind)")
    parser.add_argument("--seconds", type=float, default=15.0, help="frames read per round")
    parser.add_argument("--window", type=float, default=15.0, help="CPU window per scenario")
    parser.add_argument("--sweeps", type=int, default=2, help="times through the scenarios")
    parser.add_argument(
        "--on-demand",
        action="store_true",
        help="webrtc.warm = false: pull a camera only while watched (cold first frames)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--report", type=Path, help="only print the report of a --json file")
    return parser.parse_args(argv)


def start_stack(root: Path, stack: ExitStack, warm: bool) -> Server:
    ports = 20000 + (os.getpid() % 100) * 100  # below the ephemeral range, ours alone
    webrtc = {"max_viewers_per_camera": 30, "max_viewers": 60, "source_linger_s": LINGER_S,
              "udp_port_min": ports, "udp_port_max": ports + 99, "warm": warm}  # fmt: skip
    server = Server(root, CAMERAS, buffer_seconds=60, webrtc_extra=webrtc)
    server.start()
    stack.callback(server.stop)
    clock = str(Path(__file__).with_name("pixelclock.py"))
    for camera in CAMERAS:
        argv = [sys.executable, clock, server.publish_url(camera)]
        publisher = spawn(argv, root / f"pixelclock-{camera}.log")
        stack.callback(stop, publisher)
    buffered = lambda: all(server.camera(c)["buffer"]["segments"] >= 3 for c in CAMERAS)  # noqa: E731
    wait_until("both cameras buffered", buffered, 60)
    return server


def webrtc_state(server: Server) -> dict[str, Any]:
    state: dict[str, Any] = server.health().get("webrtc", {})
    return state


def wait_pulls(server: Server, warm: bool) -> None:
    """Until the worker pulls every camera (warm) or none (on demand: the linger after the
    last viewer is over)."""
    want = len(CAMERAS) if warm else 0
    pulls = lambda: webrtc_state(server).get("pulls") == want  # noqa: E731
    wait_until(f"{want} pulls", pulls, LINGER_S + 15)


def play(page: Page, kind: str, config: dict[str, Any]) -> dict[str, float]:
    marks: dict[str, float] = page.evaluate(
        "([k, t, c]) => bench.start(k, 'front', t, c)", [kind, TOKEN, config]
    )
    return marks


def latency_round(page: Page, kind: str, seconds: float, config: dict[str, Any]) -> Round:
    marks = play(page, kind, config)
    page.wait_for_function("() => document.getElementById('v').currentTime > 2", timeout=30_000)
    delays = read_delays(page.locator("#v").element_handle(), seconds)
    receiver: dict[str, Any] | None = page.evaluate("() => bench.receiverStats()")
    page.evaluate("() => bench.stop()")
    return Round(kind, marks, delays, receiver)


def measure_latency(page: Page, server: Server, args: argparse.Namespace, out: Results) -> None:
    config = live_config()
    print("bench: the clock at the relay...", file=sys.stderr)
    relay = f"rtmp://127.0.0.1:{server.rtmp_port}/live/front"
    out.relay = [float(d) for d in relay_delays(relay, args.seconds)]
    out.first_session = play(page, "webrtc", config)
    page.evaluate("() => bench.stop()")
    for n in range(args.rounds):
        for kind in ("webrtc", "hls") if n % 2 == 0 else ("hls", "webrtc"):
            if kind == "webrtc":
                wait_pulls(server, out.warm_pulls)
            print(f"bench: round {n + 1}/{args.rounds}: {kind}...", file=sys.stderr)
            out.rounds.append(latency_round(page, kind, args.seconds, config))
            if kind == "webrtc":  # the pull lingers: a second start is warm
                out.warm.append(play(page, "webrtc", config))
                page.evaluate("() => bench.stop()")


def viewers_flowing(page: Page, scenario: Scenario) -> None:
    for camera, n in scenario.viewers.items():
        page.evaluate("([c, n, t]) => bench.addViewers(c, n, t)", [camera, n, TOKEN])


def frames(page: Page) -> list[tuple[int, int]]:
    """Frames received and decoded so far by each viewer in the page."""
    counts: list[list[int]] = page.evaluate("() => bench.viewerFrames()")
    return [(received, decoded) for received, decoded in counts]


def measure_cost(page: Page, server: Server, args: argparse.Namespace, out: Results) -> None:
    for sweep in range(args.sweeps):
        for scenario in SCENARIOS:
            print(f"bench: sweep {sweep + 1}: {scenario.name}...", file=sys.stderr)
            if not scenario.viewers:
                wait_pulls(server, out.warm_pulls)
            viewers_flowing(page, scenario)
            time.sleep(3.0)  # past the first frames' burst and the browsers' ramp-up
            pid = worker_pid(server)
            window = measure_window(scenario, server, pid, args.window, partial(frames, page))
            out.windows.append(window)
            page.evaluate("() => bench.removeViewers()")
            wait_until("viewers gone", lambda: webrtc_state(server).get("viewers") == 0, 15)


def run(args: argparse.Namespace) -> Results:
    out = Results(
        loadavg=[Path("/proc/loadavg").read_text().split(" ", 3)[0]], warm_pulls=not args.on_demand
    )
    root = Path(tempfile.mkdtemp(prefix="bench-webrtc-"))
    with ExitStack() as stack:
        server = start_stack(root, stack, out.warm_pulls)
        if not webrtc_state(server):
            raise SystemExit(f"bench: the server reports no WebRTC worker: {server.health()}")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(base_url=server.base)
            open_page(page)
            measure_latency(page, server, args, out)
            out.loadavg.append(Path("/proc/loadavg").read_text().split(" ", 3)[0])
            measure_cost(page, server, args, out)
            out.loadavg.append(Path("/proc/loadavg").read_text().split(" ", 3)[0])
            browser.close()
    print(f"bench: logs in {root}", file=sys.stderr)
    return out


def load(path: Path) -> Results:
    """The results a run wrote with --json."""
    raw = json.loads(path.read_text())
    return Results(
        rounds=[Round(**r) for r in raw["rounds"]],
        first_session=raw["first_session"],
        warm=raw["warm"],
        warm_pulls=raw.get("warm_pulls", False),  # runs before the option pulled on demand
        relay=raw["relay"],
        windows=[Window(**w) for w in raw["windows"]],
        loadavg=raw["loadavg"],
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not HLS_JS.is_file():
        raise SystemExit("bench: install the app's packages first: scripts/bootstrap.sh")
    command = "bench/webrtc_latency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = load(args.report) if args.report else run(args)
    if args.json:
        args.json.write_text(json.dumps(asdict(results), indent=1))
    print(report(results, command.strip(), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
