import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeMediaStream, FakePeer, FakeWhepApi, apiError } from "./fakes";
import { OFFLINE_MESSAGE, startLive, type LiveDeps } from "./live";
import type { Player, PlayerCallbacks, PlayerStatus } from "./player";
import { resetWebrtcInfo } from "./webrtc";

class FakeVideo extends EventTarget {
  muted = false;
  playsInline = false;
  autoplay = false;
  paused = true;
  srcObject: unknown = null;
  async play(): Promise<void> {
    this.paused = false;
  }
}

interface Harness {
  api: FakeWhepApi;
  video: FakeVideo;
  statuses: [PlayerStatus, string | undefined][];
  signIns: number;
  hlsStarts: number;
  frames: { n: number };
  player: Player;
  peers: FakePeer[];
}

async function harness(setup: (api: FakeWhepApi) => void = () => undefined, over: Partial<LiveDeps> = {}): Promise<Harness> {
  const api = new FakeWhepApi();
  setup(api);
  const video = new FakeVideo();
  const frames = { n: 0 };
  const h = { api, video, statuses: [], signIns: 0, hlsStarts: 0, frames, peers: FakePeer.made } as unknown as Harness;
  const cb: PlayerCallbacks = {
    onStatus: (s, m) => h.statuses.push([s, m]),
    onSignIn: () => h.signIns++,
  };
  const hlsPlayer = {
    video,
    hls: null,
    transport: "hls",
    latencyS: () => 1.5,
    stats: () => ({ transport: "hls", delayS: 1.5, liveEdgeS: 1 }),
    wallTime: () => null,
    seekWall: () => false,
    toLiveEdge: () => undefined,
    destroy: () => undefined,
  } as unknown as Player;
  const deps: LiveDeps = {
    api,
    // Each connection counts the frames decoded since it was made (frames.n goes up for all).
    peer: (config) => {
      const before = frames.n;
      return new FakePeer(config, { frames: () => frames.n - before }) as unknown as RTCPeerConnection;
    },
    startHls: async () => {
      h.hlsStarts++;
      return hlsPlayer;
    },
    now: Date.now,
    visible: () => true,
    ...over,
  };
  h.player = await startLive(video as unknown as HTMLVideoElement, "front", "/live.m3u8", cb, deps);
  return h;
}

/** Lets the fakes' timers and promises run `ms` of fake time. */
const run = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);
const last = (h: Harness): PlayerStatus | undefined => h.statuses.at(-1)?.[0];

beforeEach(() => {
  vi.useFakeTimers();
  FakePeer.made = [];
  resetWebrtcInfo();
  vi.stubGlobal("MediaStream", FakeMediaStream);
  vi.stubGlobal("window", new EventTarget());
  vi.spyOn(console, "info").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("startLive", () => {
  it("plays over WebRTC when frames come, in the same <video>", async () => {
    const h = await harness();
    await run(100);
    expect(h.player.transport).toBe("webrtc");
    expect(h.video.srcObject).toBeInstanceOf(FakeMediaStream);
    expect(last(h)).toBe("loading");
    h.frames.n = 10;
    await run(600);
    expect(last(h)).toBe("playing");
    expect(h.player.stats().transport).toBe("webrtc");
    expect(h.player.latencyS()).toBeCloseTo(0.02); // 20 ms a frame in the fake's jitter buffer
    expect(h.hlsStarts).toBe(0);
    h.player.destroy();
    expect(h.api.ended).toEqual([{ location: "/api/v1/cameras/front/whep/s1", keepalive: false }]);
    expect(h.video.srcObject).toBeNull();
  });

  it("falls back to HLS when no frame comes within 3 s of starting, and ends the WebRTC session", async () => {
    // The answer takes 1 s: the 3 s count from the start (what the person waits), not from it.
    const h = await harness((api) => (api.answerDelayMs = 1_000));
    await run(2_900);
    expect(h.hlsStarts).toBe(0);
    await run(600);
    expect(h.hlsStarts).toBe(1);
    expect(h.player.transport).toBe("hls");
    expect(h.player.latencyS()).toBe(1.5);
    expect(h.api.ended.map((e) => e.location)).toEqual(["/api/v1/cameras/front/whep/s1"]);
    expect(FakePeer.made[0]!.closed).toBe(true);
    await run(10_000);
    expect(h.api.offers).toHaveLength(1); // HLS stays
  });

  it("falls back to HLS at once when a first connection fails", async () => {
    const h = await harness();
    await run(100);
    FakePeer.made[0]!.fail();
    await run(10);
    expect(h.hlsStarts).toBe(1);
  });

  it.each([
    ["the server has WebRTC off", (api: FakeWhepApi) => (api.info = { enabled: false, ice_servers: [] })],
    ["the server does not know /webrtc", (api: FakeWhepApi) => (api.info = apiError(404))],
    ["the viewer cap is reached", (api: FakeWhepApi) => api.answers.push(apiError(503, "too_many_viewers"))],
    ["the SDP is refused", (api: FakeWhepApi) => api.answers.push(apiError(400))],
  ])("plays HLS when %s", async (_why, setup) => {
    const h = await harness(setup);
    await run(10);
    expect(h.hlsStarts).toBe(1);
    expect(h.player.transport).toBe("hls");
  });

  it("plays HLS in a browser without RTCPeerConnection, without asking for an offer", async () => {
    const h = await harness(undefined, { peer: null });
    await run(10);
    expect(h.hlsStarts).toBe(1);
    expect(h.api.offers).toHaveLength(0);
  });

  it("plays HLS at once when the browser gathers no candidate, without an offer", async () => {
    const h = await harness(undefined, { peer: (config) => new FakePeer(config, { noCandidates: true }) as unknown as RTCPeerConnection });
    await run(100);
    expect(h.hlsStarts).toBe(1);
    expect(h.api.offers).toHaveLength(0);
  });

  it("sends a signed-out person to sign in instead of falling back", async () => {
    const h = await harness((api) => api.answers.push(apiError(401)));
    await run(10);
    expect(h.signIns).toBe(1);
    expect(h.hlsStarts).toBe(0);
  });

  it("restarts over WebRTC when the frames stop, and plays again", async () => {
    const h = await harness();
    await run(100); // connected
    h.frames.n = 5;
    await run(600);
    expect(last(h)).toBe("playing");
    await run(3_000); // the count stays at 5: the server ended the session (camera gone)
    expect(h.statuses.map((s) => s[0])).toContain("reconnecting");
    expect(h.api.ended.map((e) => e.location)).toEqual(["/api/v1/cameras/front/whep/s1"]);
    await run(600); // the backoff
    expect(h.api.offers).toHaveLength(2);
    h.frames.n = 6; // the new connection's first frame
    await run(600);
    expect(last(h)).toBe("playing");
    expect(h.player.transport).toBe("webrtc");
    expect(h.hlsStarts).toBe(0);
  });

  it("shows an offline camera and offers again until it is back, still over WebRTC", async () => {
    const h = await harness();
    await run(100); // connected
    h.frames.n = 5;
    await run(600);
    h.api.answers.push(apiError(503, "camera_offline"), apiError(503, "camera_offline"));
    await run(3_000 + 600); // frames stopped: restart, refused
    expect(h.statuses.at(-1)).toEqual(["reconnecting", OFFLINE_MESSAGE]);
    for (let t = 0; t < 10_000 && h.api.offers.length < 4; t += 100) await run(100); // backoff: refused again, then accepted
    expect(h.api.offers).toHaveLength(4);
    await run(100);
    h.frames.n = 9;
    await run(600);
    expect(last(h)).toBe("playing");
    expect(h.hlsStarts).toBe(0);
  });

  it("does not count an offline camera's refusals as failed restarts", async () => {
    const h = await harness();
    await run(100); // connected
    h.frames.n = 5;
    await run(600);
    h.api.answers.push(...[1, 2, 3, 4].map(() => apiError(503, "camera_offline")));
    // Frames stopped: a restart, four refusals (the camera is away), then the camera is back.
    for (let t = 0; t < 30_000 && h.api.offers.length < 6; t += 100) await run(100);
    expect(h.api.offers).toHaveLength(6);
    expect(h.statuses.filter(([, m]) => m === OFFLINE_MESSAGE)).toHaveLength(4);
    await run(5_000); // its first frame is slow to come (3 s): one more try, not HLS yet
    expect(h.hlsStarts).toBe(0);
    expect(h.api.offers.length).toBeGreaterThanOrEqual(7);
  });

  it("ends the session with keepalive when the page goes away", async () => {
    const h = await harness();
    await run(100);
    window.dispatchEvent(new Event("pagehide"));
    expect(h.api.ended).toEqual([{ location: "/api/v1/cameras/front/whep/s1", keepalive: true }]);
    h.player.destroy();
    expect(h.api.ended).toHaveLength(1);
  });

  it("drops a connection that completes after the view closed", async () => {
    const h = await harness();
    h.player.destroy();
    await run(100);
    expect(FakePeer.made.every((p) => p.closed)).toBe(true);
    expect(h.api.ended.length).toBe(h.api.offers.length);
    expect(h.video.srcObject).toBeNull();
  });
});
