import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { ApiError } from "../api/errors";
import { FakeMediaStream, FakePeer, FakeWhepApi, apiError, type FakePeerOptions } from "./fakes";
import { connectWhep, readStats, resetWebrtcInfo, webrtcInfo, type PeerFactory } from "./webrtc";

const peers = (options: FakePeerOptions = {}): PeerFactory => (config) => new FakePeer(config, options) as unknown as RTCPeerConnection;

beforeEach(() => {
  FakePeer.made = [];
  resetWebrtcInfo();
  vi.stubGlobal("MediaStream", FakeMediaStream);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("connectWhep", () => {
  it("offers to receive video only, with the gathered candidates, and sets the answer", async () => {
    const api = new FakeWhepApi();
    const ice = [{ urls: ["stun:stun.example.org:3478"] }];
    const session = await connectWhep(api, peers(), "front", ice);
    const pc = FakePeer.made[0]!;
    expect(pc.config.iceServers).toEqual(ice);
    expect(pc.transceivers.map((t) => [t.kind, t.direction])).toEqual([["video", "recvonly"]]);
    expect(pc.transceivers[0]!.receiver.jitterBufferTarget).toBe(0);
    expect(api.offers).toHaveLength(1);
    expect(api.offers[0]!.camera).toBe("front");
    expect(api.offers[0]!.sdp).toContain("a=candidate:"); // non-trickle: sent after gathering
    expect(pc.remoteDescription).toEqual({ type: "answer", sdp: "v=0\r\nanswer\r\n" });
    expect(session.location).toBe("/api/v1/cameras/front/whep/s1");
    expect((session.stream as unknown as FakeMediaStream).getTracks().map((t) => t.id)).toEqual(["v0"]);
  });

  it("offers at the first candidate, without waiting for the rest of gathering", async () => {
    vi.useFakeTimers();
    const api = new FakeWhepApi();
    const connecting = connectWhep(api, peers({ candidateMs: 5, gatherMs: 500 }), "front", []);
    await vi.advanceTimersByTimeAsync(20);
    expect(api.offers).toHaveLength(1);
    expect(api.offers[0]!.sdp).toContain("a=candidate:");
    await vi.advanceTimersByTimeAsync(500);
    await connecting;
  });

  it("sends what it has when ICE gathering does not complete within a second", async () => {
    vi.useFakeTimers();
    const api = new FakeWhepApi();
    const connecting = connectWhep(api, peers({ gatherMs: null }), "front", []);
    await vi.advanceTimersByTimeAsync(900);
    expect(api.offers).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    await connecting;
    expect(api.offers).toHaveLength(1);
    expect(api.offers[0]!.sdp).not.toContain("a=candidate:");
  });

  it("makes no offer when gathering ends without a candidate (UDP blocked by policy)", async () => {
    const api = new FakeWhepApi();
    const error = await connectWhep(api, peers({ noCandidates: true }), "front", []).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/no ICE candidate/);
    expect(api.offers).toHaveLength(0);
    expect(FakePeer.made[0]!.closed).toBe(true);
  });

  it("closes the connection and passes the server's refusal on", async () => {
    const api = new FakeWhepApi();
    api.answers.push(apiError(503, "too_many_viewers"));
    const error = await connectWhep(api, peers(), "front", []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    expect(FakePeer.made[0]!.closed).toBe(true);
    expect(api.ended).toEqual([]); // no session was made
  });

  it("ends the server's session when the browser rejects its answer", async () => {
    const api = new FakeWhepApi();
    const error = await connectWhep(api, peers({ failRemote: new Error("bad answer") }), "front", []).catch((e: unknown) => e);
    expect((error as Error).message).toBe("bad answer");
    expect(FakePeer.made[0]!.closed).toBe(true);
    expect(api.ended).toEqual([{ location: "/api/v1/cameras/front/whep/s1", keepalive: false }]);
  });

  it("close() closes the connection and deletes the session once, with keepalive when asked", async () => {
    const api = new FakeWhepApi();
    const session = await connectWhep(api, peers(), "front", []);
    session.close(true);
    session.close();
    expect(FakePeer.made[0]!.closed).toBe(true);
    expect(api.ended).toEqual([{ location: "/api/v1/cameras/front/whep/s1", keepalive: true }]);
  });
});

describe("webrtcInfo", () => {
  it("asks the server once per page, and again after a failure", async () => {
    const api = new FakeWhepApi();
    api.info = new Error("down");
    await expect(webrtcInfo(api)).rejects.toThrow("down");
    api.info = { enabled: false, ice_servers: [] };
    expect(await webrtcInfo(api)).toEqual({ enabled: false, ice_servers: [] });
    expect(await webrtcInfo(api)).toEqual({ enabled: false, ice_servers: [] });
    expect(api.infoCalls).toBe(2);
  });
});

describe("ApiClient WHEP calls", () => {
  type Call = { url: string; init: RequestInit };
  const recording = (response: () => Response): { client: ApiClient; calls: Call[] } => {
    const calls: Call[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ url: String(input), init: init ?? {} });
      return response();
    }) as typeof globalThis.fetch;
    const client = new ApiClient({ fetch });
    client.setCsrfToken("csrf-1");
    return { client, calls };
  };

  it("POSTs the offer as application/sdp with the CSRF token and reads the answer and Location", async () => {
    const { client, calls } = recording(
      () => new Response("v=0\r\nanswer", { status: 201, headers: { "Content-Type": "application/sdp", Location: "/api/v1/cameras/front/whep/abc" } }),
    );
    const answer = await client.whepOffer("front", "v=0\r\noffer");
    expect(answer).toEqual({ sdp: "v=0\r\nanswer", location: "/api/v1/cameras/front/whep/abc" });
    const headers = new Headers(calls[0]!.init.headers);
    expect(calls[0]!.url).toBe("/api/v1/cameras/front/whep");
    expect(calls[0]!.init.method).toBe("POST");
    expect(calls[0]!.init.body).toBe("v=0\r\noffer");
    expect(headers.get("Content-Type")).toBe("application/sdp");
    expect(headers.get("Accept")).toBe("application/sdp");
    expect(headers.get("X-CSRF-Token")).toBe("csrf-1");
  });

  it("resolves a relative Location against the offer's URL", async () => {
    const { client } = recording(() => new Response("v=0", { status: 201, headers: { Location: "whep/xyz" } }));
    expect((await client.whepOffer("front", "v=0")).location).toBe("/api/v1/cameras/front/whep/xyz");
  });

  it("reads a 503's reason and Retry-After", async () => {
    const body = JSON.stringify({ detail: "the camera is offline", reason: "camera_offline" });
    const { client } = recording(() => new Response(body, { status: 503, headers: { "Retry-After": "2" } }));
    const error = (await client.whepOffer("front", "v=0").catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(503);
    expect(error.body.reason).toBe("camera_offline");
    expect(error.retryAfterS).toBe(2);
  });

  it("DELETEs a session with keepalive, and takes a 404 (already ended) as done", async () => {
    const { client, calls } = recording(() => new Response(JSON.stringify({ detail: "gone" }), { status: 404 }));
    await client.whepEnd("/api/v1/cameras/front/whep/abc", true);
    expect(calls[0]!.init.method).toBe("DELETE");
    expect(calls[0]!.init.keepalive).toBe(true);
    expect(new Headers(calls[0]!.init.headers).get("X-CSRF-Token")).toBe("csrf-1");
  });
});

describe("readStats", () => {
  const report = (jbd: number, emitted: number, rtt?: number) => [
    { type: "inbound-rtp", kind: "video", jitterBufferDelay: jbd, jitterBufferEmittedCount: emitted, framesPerSecond: 30, frameWidth: 1280, frameHeight: 720, packetsLost: 3, framesDecoded: emitted },
    { type: "inbound-rtp", kind: "audio", jitterBufferDelay: 99, jitterBufferEmittedCount: 1 },
    ...(rtt === undefined ? [] : [{ type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: rtt }]),
  ];

  it("adds half the round trip to the jitter buffer's average delay", () => {
    const { stats } = readStats(report(3, 100, 0.04));
    expect(stats.jitterBufferS).toBeCloseTo(0.03);
    expect(stats.delayS).toBeCloseTo(0.05);
    expect([stats.fps, stats.width, stats.height, stats.packetsLost, stats.framesDecoded]).toEqual([30, 1280, 720, 3, 100]);
  });

  it("averages over the frames since the last reading, not the whole session", () => {
    const first = readStats(report(10, 100)); // 100 ms a frame so far
    const { stats } = readStats(report(11, 200), first.jitter); // 10 ms a frame since
    expect(stats.jitterBufferS).toBeCloseTo(0.01);
  });

  it("knows nothing before the first frame", () => {
    expect(readStats([]).stats.delayS).toBeNull();
    expect(readStats(report(0, 0)).stats.delayS).toBeNull();
  });
});
