import { describe, expect, it } from "vitest";
import { backoff, decide, stallAction, type History } from "./recovery";

const fresh: History = { networkRetries: 0, lastMediaRecoveryMs: null, mediaRecoveries: 0, nowMs: 100_000 };

describe("decide", () => {
  it("sends the person to sign in when the session ended, fatal or not", () => {
    expect(decide({ type: "networkError", details: "fragLoadError", fatal: false, status: 401 }, fresh)).toEqual({ kind: "signIn" });
    expect(decide({ type: "networkError", details: "levelLoadError", fatal: true, status: 401 }, fresh)).toEqual({ kind: "signIn" });
  });

  it("leaves non-fatal errors to hls.js", () => {
    expect(decide({ type: "mediaError", details: "bufferStalledError", fatal: false }, fresh)).toEqual({ kind: "ignore" });
  });

  it("reloads after a network error with a growing, capped backoff", () => {
    const e = { type: "networkError", details: "fragLoadError", fatal: true };
    expect(decide(e, fresh)).toEqual({ kind: "startLoad", delayMs: 500 });
    expect(decide(e, { ...fresh, networkRetries: 3 })).toEqual({ kind: "startLoad", delayMs: 4_000 });
    expect(decide(e, { ...fresh, networkRetries: 30 })).toEqual({ kind: "startLoad", delayMs: 8_000 });
  });

  it("starts again when even the playlist cannot be loaded, and gives up on an unknown camera", () => {
    expect(decide({ type: "networkError", details: "manifestLoadError", fatal: true, status: 503 }, fresh)).toEqual({ kind: "restart", delayMs: 500 });
    expect(decide({ type: "networkError", details: "manifestLoadError", fatal: true, status: 404 }, fresh).kind).toBe("fail");
  });

  it("recovers media errors, then swaps codecs, then starts again", () => {
    const e = { type: "mediaError", details: "bufferAppendError", fatal: true };
    expect(decide(e, fresh)).toEqual({ kind: "recoverMedia" });
    const once = { ...fresh, mediaRecoveries: 1, lastMediaRecoveryMs: fresh.nowMs - 1_000 };
    expect(decide(e, once)).toEqual({ kind: "swapAudioCodecAndRecover" });
    expect(decide(e, { ...once, mediaRecoveries: 2 })).toEqual({ kind: "restart", delayMs: 500 });
    // A media error long after the last recovery is a new problem: recover again.
    expect(decide(e, { ...once, mediaRecoveries: 2, lastMediaRecoveryMs: fresh.nowMs - 60_000 })).toEqual({ kind: "recoverMedia" });
  });

  it("starts again after other fatal errors", () => {
    expect(decide({ type: "muxError", details: "fragParsingError", fatal: true }, fresh).kind).toBe("restart");
  });
});

describe("backoff", () => {
  it("doubles from 0.5 s up to 8 s", () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(backoff)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });
});

describe("stallAction", () => {
  const base = { playing: true, online: true, lastProgressMs: 0 };
  it("does nothing while the video moves, when paused or offline", () => {
    expect(stallAction({ ...base, nowMs: 1_000 })).toBe("none");
    expect(stallAction({ ...base, playing: false, nowMs: 60_000 })).toBe("none");
    expect(stallAction({ ...base, online: false, nowMs: 60_000 })).toBe("none");
  });
  it("jumps to live after a short stall and starts again after a long one", () => {
    expect(stallAction({ ...base, nowMs: 3_000 })).toBe("seekLive");
    expect(stallAction({ ...base, nowMs: 9_000 })).toBe("restart");
  });
});
