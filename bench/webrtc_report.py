"""The WebRTC benchmark's markdown report: latency, first frame, the server's cost, the goals."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from _common import machine, markdown_table, percentile
from webrtc_cost import Window

if TYPE_CHECKING:
    from webrtc_latency import Results, Round

NAMES = {
    "webrtc": "WebRTC (WHEP, H.264 passthrough)",
    "hls": "HLS, hls.js with the app's LIVE_CONFIG",
}
GOALS = {"median": 400.0, "p95": 600.0, "first_frame": 1000.0, "per_viewer": 1.0}


def _met(value: float, goal: float) -> str:
    return "**met**" if value <= goal else "**not met**"


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None, spec: str = ".0f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def _delays(rounds: list[Round], kind: str) -> list[float]:
    return [d for r in rounds if r.kind == kind for d in r.delays]


def latency_table(rounds: list[Round]) -> str:
    rows = []
    for kind, name in NAMES.items():
        delays = _delays(rounds, kind)
        per_round = [statistics.median(r.delays) for r in rounds if r.kind == kind]
        rows.append([
            name, f"{statistics.median(delays):.0f} ms", f"{percentile(delays, 0.95):.0f} ms",
            f"{min(per_round):.0f}-{max(per_round):.0f} ms", str(len(delays)),
        ])  # fmt: skip
    return markdown_table(
        ["live player", "glass to glass: median", "p95", "round medians", "frames"], rows
    )


def relay_line(relay: list[float]) -> str:
    return (
        f"Reference, the same clock decoded off the relay by GStreamer on this machine (no "
        f"jitter buffer, no display): median {statistics.median(relay):.0f} ms, p95 "
        f"{percentile(relay, 0.95):.0f} ms ({len(relay)} frames): the encoder, RTMP and the "
        "relay; the rest of each figure above is the server's path and the browser."
    )


def _marks(samples: list[dict[str, float]], names: list[str]) -> str:
    parts = [f"{name} {_fmt(_median([s.get(name) for s in samples]))}" for name in names]
    return ", ".join(parts)


def _pulls(results: Results) -> str:
    return "pulls kept warm" if results.warm_pulls else "pull opened on demand: cold"


def first_frame_table(results: Results) -> str:
    cold = [r.marks for r in results.rounds if r.kind == "webrtc"]
    hls = [r.marks for r in results.rounds if r.kind == "hls"]
    webrtc_steps = ["gathered", "answered", "connected"]
    rows = []
    for what, samples, steps in [
        (f"WebRTC, first viewer ({_pulls(results)})", cold, webrtc_steps),
        ("WebRTC, again at once (the pull running)", results.warm, webrtc_steps),
        ("HLS (app's LIVE_CONFIG)", hls, ["playlist", "buffered"]),
    ]:
        firsts = [s["first_frame"] for s in samples]
        rows.append([
            what, f"{statistics.median(firsts):.0f} ms", f"{max(firsts):.0f} ms", str(len(firsts)),
            _marks(samples, steps),
        ])  # fmt: skip
    table = markdown_table(
        ["start", "first frame: median", "max", "n", "medians of steps (ms)"], rows
    )
    first = results.first_session
    return (
        f"{table}\n\nThe worker's first session (before the rounds; it makes its DTLS "
        f"certificate then): first frame {first['first_frame']:.0f} ms "
        f"({_marks([first], webrtc_steps)})."
    )


def receiver_table(rounds: list[Round]) -> str:
    stats = [r.receiver for r in rounds if r.receiver]
    keys = ["jitter_buffer_ms", "jitter_target_ms", "decode_ms", "processing_ms", "freezes",
            "packets_lost", "frames_dropped"]  # fmt: skip
    rows = [[key, _fmt(_median([s.get(key) for s in stats]), ".1f")] for key in keys]
    return markdown_table(["Chromium's inbound-rtp (median of rounds)", "value"], rows)


def _by_scenario(windows: list[Window]) -> dict[str, dict[str, Any]]:
    """Per scenario, the median of each figure over the sweeps."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(w.scenario for w in windows):
        group = [w for w in windows if w.scenario == name]
        numbers = [f.name for f in fields(Window) if f.name != "scenario"]
        out[name] = {k: _median([getattr(w, k) for w in group]) for k in numbers}
        out[name]["n"] = len(group)
        out[name]["worker_cpu_all"] = [w.worker_cpu for w in group]
    return out


def _mib(rss_kib: float, pss_kib: float) -> str:
    return f"{rss_kib / 1024:.0f} / {pss_kib / 1024:.0f} MiB"


def cost_table(windows: list[Window]) -> str:
    rows = []
    for name, m in _by_scenario(windows).items():
        spread = ", ".join(f"{v:.1f}" for v in m["worker_cpu_all"])
        rows.append([
            name, f"{m['worker_cpu']:.1f} % ({spread})", f"{m['api_cpu']:.1f} %",
            f"{m['relay_cpu']:.1f} %", _mib(m["worker_rss_kib"], m["worker_pss_kib"]),
            _mib(m["api_rss_kib"], m["api_pss_kib"]),
            f"{m['browser_cpu']:.0f} % + {m['publishers_cpu']:.0f} %", f"{m['machine_busy']:.0f} %",
            f"{_fmt(m['min_received_fps'], '.1f')} / {_fmt(m['median_decoded_fps'], '.1f')}",
            _fmt(m["udp_drops"]),
        ])  # fmt: skip
    header = ["viewers", "media worker CPU (sweeps)", "API CPU", "relay + segmenters CPU",
              "worker RSS / PSS", "API RSS / PSS", "load: Chromium + publishers CPU",
              "machine busy (2 cores)", "fps: least received / median decoded",
              "UDP drops"]  # fmt: skip
    return markdown_table(header, rows)


def per_viewer(windows: list[Window]) -> dict[str, float]:
    m = _by_scenario(windows)
    one, five, twenty = m["1 viewer"], m["5 viewers"], m["20 viewers"]
    # Every window of one camera with 1, 5 or 20 viewers: the slope is the cost of a viewer.
    points = [(w.viewers, w.worker_cpu) for w in windows if w.cameras == 1]
    slope = statistics.linear_regression(*zip(*points, strict=True)).slope
    return {
        "worker_slope": slope,
        "worker_1_to_5": (five["worker_cpu"] - one["worker_cpu"]) / 4,
        "worker_1_to_20": (twenty["worker_cpu"] - one["worker_cpu"]) / 19,
        "api_1_to_20": (twenty["api_cpu"] - one["api_cpu"]) / 19,
        "rss_1_to_20_kib": (twenty["worker_rss_kib"] - one["worker_rss_kib"]) / 19,
        "first_viewer": one["worker_cpu"] - m["no viewer"]["worker_cpu"],
        "camera": m["2 cameras, 1 viewer each"]["worker_cpu"] - one["worker_cpu"],
        "camera_rss_kib": m["2 cameras, 1 viewer each"]["worker_rss_kib"] - one["worker_rss_kib"],
    }


def derived(windows: list[Window]) -> str:
    d = per_viewer(windows)
    return "\n".join([
        f"- per additional viewer (media worker): {d['worker_slope']:.2f} % of a core (least "
        f"squares over every 1-, 5- and 20-viewer window); from the medians "
        f"{d['worker_1_to_20']:.2f} % (1 -> 20 viewers), {d['worker_1_to_5']:.2f} % (1 -> 5); API "
        f"{d['api_1_to_20']:+.2f} %; worker RSS {d['rss_1_to_20_kib']:.0f} KiB",
        f"- the first viewer of a camera (one session; its pull too if on demand): "
        f"{d['first_viewer']:.1f} % "
        f"of a core; a second camera with one viewer: {d['camera']:+.1f} %, worker RSS "
        f"{d['camera_rss_kib'] / 1024:+.1f} MiB",
    ])  # fmt: skip


def goals(results: Results) -> str:
    webrtc = _delays(results.rounds, "webrtc")
    cold = [r.marks["first_frame"] for r in results.rounds if r.kind == "webrtc"]
    warm = [m["first_frame"] for m in results.warm]
    median, p95 = statistics.median(webrtc), percentile(webrtc, 0.95)
    first, again = statistics.median(cold), statistics.median(warm)
    extra = per_viewer(results.windows)["worker_slope"]
    rows = [
        ["glass to glass, median", "≤ 400 ms", f"{median:.0f} ms", _met(median, GOALS["median"])],
        ["glass to glass, p95", "≤ 600 ms", f"{p95:.0f} ms", _met(p95, GOALS["p95"])],
        [f"first frame, first viewer ({_pulls(results)})", "≤ 1.0 s",
         f"{first:.0f} ms (max {max(cold):.0f})",
         _met(first, GOALS["first_frame"])],
        ["first frame, again at once", "≤ 1.0 s", f"{again:.0f} ms (max {max(warm):.0f})",
         _met(again, GOALS["first_frame"])],
        ["CPU per additional viewer", "≤ 1 % of a core", f"{extra:.2f} %",
         _met(extra, GOALS["per_viewer"])],
    ]  # fmt: skip
    return markdown_table(["goal (issue 12)", "bound", "measured", ""], rows)


def report(results: Results, command: str, args: argparse.Namespace) -> str:
    info = machine()
    del info["loadavg at start"]  # machine() runs after the run: the run's own are below
    info["loadavg: start / after latency / end"] = " / ".join(results.loadavg)
    return "\n\n".join([
        f"`{command}`",
        markdown_table(["machine", ""], [[k, v] for k, v in info.items()]),
        f"### Glass to glass ({args.rounds} rounds of {args.seconds:g} s each)",
        latency_table(results.rounds),
        relay_line(results.relay),
        "### Time to first frame",
        first_frame_table(results),
        receiver_table(results.rounds),
        f"### Server cost ({args.window:g}-s windows, medians of {args.sweeps} sweeps)",
        cost_table(results.windows),
        derived(results.windows),
        "### Goals",
        goals(results),
    ])  # fmt: skip
