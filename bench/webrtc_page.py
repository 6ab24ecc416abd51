"""The bare page the WebRTC benchmark drives: a WHEP player, an hls.js player with the app's
live settings, and many tiny WHEP viewers, each started and ended from Python.

Served by Playwright on the server's origin (`/__bench/*`), so requests are same-origin and
carry the API's bearer token themselves (the WHEP POST and DELETE, hls.js's requests).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import benchpage
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
HLS_JS = benchpage.HLS_JS
PLAYER_TS = ROOT / "web" / "src" / "live" / "player.ts"

HTML = """<!doctype html><html><body style="margin:0">
<video id="v" width="640" height="360" muted autoplay playsinline></video>
<div id="viewers" style="display:flex;flex-wrap:wrap"></div>
<script src="/__bench/hls.min.js"></script><script src="/__bench/bench.js"></script>
</body></html>"""

# Times are ms from the start of each player (`marks`): for WebRTC from before the
# RTCPeerConnection is made to the offer's ICE gathering done, the answer received, DTLS
# connected and the first presented frame; for HLS from before `new Hls` to the playlist
# parsed, the first segment buffered and the first presented frame.
SCRIPT = """"use strict";
const auth = (token) => ({ Authorization: `Bearer ${token}` });
const within = (promise, ms, what) => Promise.race([promise, new Promise((_, reject) =>
  setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms))]);
const presented = (video) =>
  new Promise((resolve) => video.requestVideoFrameCallback(() => resolve(performance.now())));

function gathered(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, ms);  // non-trickle: send what there is after at most ms
  });
}

async function whep(camera, video, token) {
  const t0 = performance.now(), marks = {};
  const mark = (name) => { marks[name] ??= performance.now() - t0; };
  const first = presented(video).then((t) => { marks.first_frame = t - t0; });
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (e) => {
    video.srcObject = new MediaStream([e.track]);
    video.play().catch(() => {});
  };
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") mark("connected");
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 1000);
  mark("gathered");
  const res = await fetch(`/api/v1/cameras/${camera}/whep`, {
    method: "POST", headers: { "Content-Type": "application/sdp", ...auth(token) },
    body: pc.localDescription.sdp });
  if (res.status !== 201) {
    pc.close();
    throw new Error(`WHEP offer: ${res.status} ${await res.text()}`);
  }
  mark("answered");
  const session = { kind: "webrtc", pc, video, marks, first, token,
                    location: res.headers.get("Location") };
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  return session;
}

function hls(camera, video, token, config) {
  const t0 = performance.now(), marks = {};
  const mark = (name) => { marks[name] ??= performance.now() - t0; };
  const first = presented(video).then((t) => { marks.first_frame = t - t0; });
  const h = new Hls({ ...config,
    xhrSetup: (xhr) => xhr.setRequestHeader("Authorization", `Bearer ${token}`) });
  h.on(Hls.Events.MANIFEST_PARSED, () => mark("playlist"));
  h.on(Hls.Events.FRAG_BUFFERED, () => mark("buffered"));
  h.loadSource(`/api/v1/cameras/${camera}/live.m3u8`);
  h.attachMedia(video);
  video.play().catch(() => {});
  return { kind: "hls", hls: h, video, marks, first };
}

async function end(session) {
  if (session.kind === "hls") session.hls.destroy();
  else {
    session.pc.close();
    await fetch(session.location, { method: "DELETE", headers: auth(session.token) });
  }
  session.video.srcObject = null;
  session.video.removeAttribute("src");
  session.video.load();
}

async function inbound(pc) {
  for (const s of (await pc.getStats()).values()) {
    if (s.type === "inbound-rtp" && s.kind === "video") return s;
  }
  return null;
}

window.bench = {
  current: null,
  viewers: [],
  async start(kind, camera, token, config) {
    const video = document.getElementById("v");
    const s = kind === "hls" ? hls(camera, video, token, config) : await whep(camera, video, token);
    this.current = s;
    await within(s.first, 15000, "first frame");
    return s.marks;
  },
  async stop() {
    if (this.current) await end(this.current);
    this.current = null;
  },
  async receiverStats() {
    const c = this.current;
    const s = c && c.kind === "webrtc" ? await inbound(c.pc) : null;
    if (!s) return null;
    const per = (total, count) => (count ? (1000 * total) / count : null);
    return {
      jitter_buffer_ms: per(s.jitterBufferDelay, s.jitterBufferEmittedCount),
      jitter_target_ms: per(s.jitterBufferTargetDelay, s.jitterBufferEmittedCount),
      decode_ms: per(s.totalDecodeTime, s.framesDecoded),
      processing_ms: per(s.totalProcessingDelay, s.framesDecoded),
      frames_decoded: s.framesDecoded, frames_dropped: s.framesDropped,
      freezes: s.freezeCount, packets_lost: s.packetsLost,
    };
  },
  async addViewers(camera, n, token) {
    const box = document.getElementById("viewers");
    const started = [];
    for (let i = 0; i < n; i++) {
      const video = Object.assign(document.createElement("video"),
        { muted: true, autoplay: true, playsInline: true, width: 16, height: 9 });
      box.append(video);
      const s = await whep(camera, video, token);
      this.viewers.push(s);
      started.push(s.first);
    }
    await within(Promise.all(started), 20000, `first frames of ${n} viewers`);
  },
  async viewerFrames() {  // [received, decoded] per viewer
    return Promise.all(this.viewers.map(async (s) => {
      const r = await inbound(s.pc);
      return [r?.framesReceived ?? 0, r?.framesDecoded ?? 0];
    }));
  },
  async removeViewers() {
    await Promise.all(this.viewers.map(end));
    this.viewers = [];
    document.getElementById("viewers").replaceChildren();
  },
};
"""


def live_config() -> dict[str, Any]:
    """The app's hls.js live settings (`LIVE_CONFIG` in web/src/live/player.ts), read from
    the source so the benchmark plays HLS exactly as the app does."""
    text = PLAYER_TS.read_text(encoding="utf-8")
    body = re.search(r"export const LIVE_CONFIG[^=]*=\s*\{(.*?)\n\};", text, re.DOTALL)
    if body is None:
        raise SystemExit(f"bench: LIVE_CONFIG not found in {PLAYER_TS}")
    config: dict[str, Any] = {}
    for line in body.group(1).splitlines():
        entry = re.match(r"\s*(\w+):\s*([^,]+),", line.split("//", 1)[0])
        if entry:
            config[entry.group(1)] = json.loads(entry.group(2))
    return config


def open_page(page: Page) -> None:
    """Serve and load the bench page on the server's origin."""
    benchpage.serve(page, HTML, {"bench.js": SCRIPT}, "index.html")
    page.wait_for_function("() => window.bench && window.Hls")
