import { describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "../api/errors";
import { MAX_RESTARTS, afterOfferError, firstTransport, watchWebrtc, type WatchState } from "./transport";

const err = (status: number, body: Record<string, unknown> = {}, retry: number | null = null): ApiError =>
  new ApiError(status, { detail: "x", ...body }, retry);

describe("firstTransport", () => {
  it("is WebRTC only when the browser has it and the server offers it", () => {
    expect(firstTransport(true, { enabled: true })).toBe("webrtc");
    expect(firstTransport(false, { enabled: true })).toBe("hls");
    expect(firstTransport(true, { enabled: false })).toBe("hls");
    expect(firstTransport(true, null)).toBe("hls"); // the server did not say (older server, error)
  });
});

describe("afterOfferError", () => {
  it("sends a signed-out person to sign in", () => {
    expect(afterOfferError(err(401), 0)).toEqual({ kind: "signIn" });
  });

  it("waits for an offline camera with the usual backoff, or longer when the server asks", () => {
    expect(afterOfferError(err(503, { reason: "camera_offline" }), 0)).toEqual({ kind: "offline", delayMs: 500 });
    expect(afterOfferError(err(503, { reason: "camera_offline" }), 2)).toEqual({ kind: "offline", delayMs: 2_000 });
    expect(afterOfferError(err(503, { reason: "camera_offline" }, 5), 0)).toEqual({ kind: "offline", delayMs: 5_000 });
    expect(afterOfferError(err(503, { code: "camera_offline" }), 0)).toEqual({ kind: "offline", delayMs: 500 });
  });

  it.each([
    [err(503, { reason: "too_many_viewers" })],
    [err(503, { reason: "webrtc_unavailable" })],
    [err(503)],
    [err(400)],
    [err(403)],
    [err(404)],
    [err(415)],
    [err(500)],
    [new NetworkError(new TypeError("fetch failed"))],
    [new DOMException("bad answer", "InvalidAccessError")],
  ])("falls back to HLS on anything else (%s)", (e) => {
    expect(afterOfferError(e, 0).kind).toBe("hls");
  });
});

describe("watchWebrtc", () => {
  const base: WatchState = {
    nowMs: 10_000,
    startedMs: 10_000,
    firstFrameMs: null,
    lastFrameMs: null,
    connection: "connecting",
    played: false,
    restarts: 0,
    visible: true,
  };

  it("gives a first try 3 s for its first frame, then HLS", () => {
    expect(watchWebrtc({ ...base, nowMs: 12_900 })).toBe("ok");
    expect(watchWebrtc({ ...base, nowMs: 13_000 })).toBe("hls");
  });

  it("goes to HLS at once when a first try's connection fails", () => {
    expect(watchWebrtc({ ...base, nowMs: 10_500, connection: "failed" })).toBe("hls");
  });

  it("restarts a view that played when its frames stop or its connection fails", () => {
    const playing = { ...base, firstFrameMs: 11_000, lastFrameMs: 20_000, connection: "connected" as const, played: true };
    expect(watchWebrtc({ ...playing, nowMs: 22_900 })).toBe("ok");
    expect(watchWebrtc({ ...playing, nowMs: 23_000 })).toBe("restart");
    expect(watchWebrtc({ ...playing, nowMs: 20_100, connection: "failed" })).toBe("restart");
    expect(watchWebrtc({ ...playing, nowMs: 20_100, connection: "disconnected" })).toBe("ok"); // ICE may come back
  });

  it("does not count frames a hidden page does not get", () => {
    const playing = { ...base, firstFrameMs: 11_000, lastFrameMs: 20_000, connection: "connected" as const, played: true };
    expect(watchWebrtc({ ...playing, nowMs: 60_000, visible: false })).toBe("ok");
  });

  it("retries a view that played before, and gives up for HLS after a few tries without a frame", () => {
    const retry = { ...base, played: true, nowMs: 13_000 };
    expect(watchWebrtc({ ...retry, restarts: 1 })).toBe("restart");
    expect(watchWebrtc({ ...retry, restarts: MAX_RESTARTS - 1 })).toBe("restart");
    expect(watchWebrtc({ ...retry, restarts: MAX_RESTARTS })).toBe("hls");
  });
});
