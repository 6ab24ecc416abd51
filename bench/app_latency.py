"""The app's live view in Chromium, measured: glass-to-glass latency read off the pixels, the
time from tapping a camera to its first frame, from a ring stored to the banner on an open
app, and what the app transfers on its first load.

    .venv/bin/python bench/app_latency.py [--seconds 30] [--taps 5] [--rings 5]

The real stack on loopback: `doorbell serve` with its nginx-rtmp relay and WebRTC turned off
(the app plays HLS; benchmark 10 measures WebRTC), serving the built app
(web/dist), and a publisher whose frames carry the wall clock (bench/pixelclock.py: 640x360,
25 fps, x264 with a keyframe every second, as the doorbell's test profile). Debian's Chromium,
headless, in a phone viewport, plays the camera as a person would: signed in, the camera
tapped. A script in the page reads the clock off each presented frame
(`requestVideoFrameCallback`, drawn to a canvas) and subtracts it from the frame's expected
display time: glass to glass, both on this machine's clock.

The baseline, in the same run: hls.js 1.x with its default settings on the same stream (a
bare page on the same origin), which is what a client that does not tune hls.js gets.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchpage
import httpx
from _common import machine, markdown_table, percentile, wait_until
from pixelclock import read_delays
from playwright.sync_api import Page, sync_playwright

from tests.stack.harness import Server, device_token, stop

ROOT = Path(__file__).resolve().parents[1]
WEB_DIST = ROOT / "web" / "dist"
HLS_JS = benchpage.HLS_JS
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
USER, PASSWORD = "bench", "bench password 0123"
KEY = "front-stream-key-0123456789"

TAP_TO_FIRST_FRAME_JS = """async () => {
  const link = [...document.querySelectorAll("h2 a")].find((a) => a.textContent.trim() === "front");
  const t0 = performance.now();
  link.click();
  const video = await new Promise((resolve) => {
    const look = () => {
      const v = document.querySelector("video");
      v ? resolve(v) : requestAnimationFrame(look);
    };
    look();
  });
  await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
  return performance.now() - t0;
}"""

BANNER_JS = """() => {
  window.__bannerAt = null;
  new MutationObserver(() => {
    if (window.__bannerAt === null && [...document.querySelectorAll("[role=alert]")]
        .some((e) => e.textContent.includes("Someone rang"))) window.__bannerAt = Date.now();
  }).observe(document.body, { childList: true, subtree: true });
}"""

FIRST_LOAD_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  return { bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
           decoded: nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0),
           files: 1 + res.length };
}"""

BASELINE_HTML = """<!doctype html><html><body>
<video id="v" muted autoplay playsinline></video>
<script src="/__bench/hls.min.js"></script><script src="/__bench/baseline.js"></script>
</body></html>"""
BASELINE_JS = """const video = document.getElementById("v");
const hls = new Hls();  // hls.js defaults
hls.loadSource("/api/v1/cameras/front/live.m3u8");
hls.attachMedia(video);
window.__doorbell = { player: () => ({ video, hls, latencyS: () => null }) };"""


def start(root: Path) -> tuple[Server, subprocess.Popen[bytes]]:
    # The app's HLS: WebRTC off (the app would play it first; benchmark 10 measures it).
    server = Server(
        root,
        {"front": KEY},
        buffer_seconds=120,
        extra={"web_dir": str(WEB_DIST)},
        webrtc_extra={"enabled": False},
    )
    server.start()
    added = subprocess.run(
        [sys.executable, "-m", "api", "user", "add", USER, "--password-stdin",
         "--config", str(server.config)],
        input=PASSWORD, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if added.returncode != 0:
        raise SystemExit(f"bench: doorbell user add failed: {added.stderr}")
    log = (root / "pixelclock.log").open("wb")
    clock = str(Path(__file__).with_name("pixelclock.py"))
    publisher = subprocess.Popen(
        [sys.executable, clock, server.publish_url("front")], stdout=log, stderr=subprocess.STDOUT
    )
    wait_until("video buffered", lambda: server.camera("front")["buffer"]["segments"] >= 5, 60)
    return server, publisher


def sign_in(page: Page) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Cameras").wait_for()


def glass_to_glass(page: Page, seconds: float) -> list[float]:
    page.wait_for_function(
        "() => window.__doorbell?.player()?.video?.currentTime > 2", timeout=30_000
    )
    return read_delays(page.evaluate_handle("window.__doorbell.player().video"), seconds)


def baseline_page(page: Page) -> None:
    benchpage.serve(page, BASELINE_HTML, {"baseline.js": BASELINE_JS}, "baseline.html")


def rings_to_banner(server: Server, page: Page, rings: int) -> list[float]:
    page.goto("/")
    page.get_by_role("heading", name="Cameras").wait_for()
    delays = []
    for _ in range(rings):
        page.evaluate(BANNER_JS)
        event = {"id": str(uuid.uuid4()), "camera": "front", "kind": "ring",
                 "at_ms": time.time_ns() // 10**6, "clock_offset_ms": 0}  # fmt: skip
        answer = httpx.post(
            f"{server.base}/api/v1/agent/events", json=event, timeout=10,
            headers={"Authorization": f"Bearer {device_token('front')}"},
        )  # fmt: skip
        stored_ms = answer.json()["server_time_ms"]
        page.wait_for_function("() => window.__bannerAt !== null", timeout=10_000)
        delays.append(page.evaluate("window.__bannerAt") - stored_ms)
        page.get_by_role("button", name="Dismiss").click()
        time.sleep(1.0)  # rings a second apart, as a person presses a button
    return delays


def run(seconds: float, taps: int, rings: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-app-"))
    server, publisher = start(root)
    results: dict[str, Any] = {}
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            fresh = browser.new_context(base_url=server.base, **PHONE)
            first = fresh.new_page()
            first.goto("/sign-in")
            first.get_by_role("button", name="Sign in").wait_for()
            first.wait_for_load_state("networkidle")
            results["first_load"] = first.evaluate(FIRST_LOAD_JS)
            fresh.close()

            context = browser.new_context(base_url=server.base, **PHONE)
            page = context.new_page()
            sign_in(page)
            tap_ms = []
            for _ in range(taps):
                page.goto("/")
                page.get_by_role("link", name="front", exact=True).wait_for()
                tap_ms.append(page.evaluate(TAP_TO_FIRST_FRAME_JS))
            results["tap_ms"] = tap_ms
            results["app"] = glass_to_glass(page, seconds)
            results["banner_ms"] = rings_to_banner(server, page, rings)
            # Its own context, without the app's service worker (which would answer the page's
            # navigation with the app), signed in with the same session.
            bare = browser.new_context(
                base_url=server.base,
                service_workers="block",
                storage_state=context.storage_state(),
                **PHONE,
            )
            baseline = bare.new_page()
            baseline_page(baseline)
            results["baseline"] = glass_to_glass(baseline, seconds)
            browser.close()
    finally:
        stop(publisher)
        server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of frames read")
    parser.add_argument("--taps", type=int, default=5)
    parser.add_argument("--rings", type=int, default=5)
    args = parser.parse_args()
    if not (WEB_DIST / "index.html").is_file() or not HLS_JS.is_file():
        raise SystemExit("bench: build the app first: scripts/bootstrap.sh")
    r = run(args.seconds, args.taps, args.rings)
    app, base = r["app"], r["baseline"]
    print(markdown_table(["what", "value"], [[k, v] for k, v in machine().items()]))
    print()
    rows = [
        ["the app (hls.js tuned)", f"{statistics.median(app) / 1000:.2f} s",
         f"{percentile(app, 0.95) / 1000:.2f} s", str(len(app))],
        ["hls.js defaults (baseline)", f"{statistics.median(base) / 1000:.2f} s",
         f"{percentile(base, 0.95) / 1000:.2f} s", str(len(base))],
    ]  # fmt: skip
    print(markdown_table(["live player", "glass-to-glass median", "p95", "frames"], rows))
    ratio = statistics.median(base) / statistics.median(app)
    print(f"\nthe app is {ratio:.1f}x closer to live than hls.js defaults (medians, same run)")
    taps, banners, load = r["tap_ms"], r["banner_ms"], r["first_load"]
    print()
    timed = [("tap a camera -> first frame", taps), ("ring stored -> banner, app open", banners)]
    rows = [
        [what, f"{statistics.median(v):.0f} ms", f"{max(v):.0f} ms", str(len(v))]
        for what, v in timed
    ]
    print(markdown_table(["measure", "median", "max", "n"], rows))
    print(
        f"\nfirst load (sign-in page, empty cache): {load['bytes'] / 1024:.1f} KiB transferred "
        f"in {load['files']} files ({load['decoded'] / 1024:.1f} KiB decoded)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
