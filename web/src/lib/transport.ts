/**
 * Which transport the live view uses and when it gives up on WebRTC: pure decisions from what
 * the browser has, what the server said and how long the video has gone without a frame. The
 * live player (live/live.ts) carries them out. HLS is the fallback; rewind is always HLS.
 */
import { ApiError } from "../api/errors";
import { backoff } from "./recovery";

export type Transport = "webrtc" | "hls";

/** No first frame this long after starting, or no new frame this long while playing: act. */
export const FIRST_FRAME_MS = 3_000;
export const FRAMES_STOPPED_MS = 3_000;
/** Restarts of a WebRTC view that played once before falling back to HLS for good. */
export const MAX_RESTARTS = 3;

/** WebRTC first when the browser has it and the server offers it; HLS otherwise. */
export function firstTransport(peerConnection: boolean, server: { enabled: boolean } | null): Transport {
  return peerConnection && server?.enabled === true ? "webrtc" : "hls";
}

export type OfferOutcome =
  | { kind: "signIn" }
  /** The camera is offline: say so, and offer again after the delay (WebRTC still first). */
  | { kind: "offline"; delayMs: number }
  | { kind: "hls"; reason: string };

/** The machine-readable reason of a WHEP error: the body's `reason` (or `code`, `error.code`). */
export function errorCode(error: ApiError): string | null {
  const body = error.body as ApiError["body"] & { code?: unknown; error?: { code?: unknown } };
  if (typeof body.reason === "string") return body.reason;
  if (typeof body.code === "string") return body.code;
  if (typeof body.error?.code === "string") return body.error.code;
  return null;
}

/** What to do when the offer (or the browser's part of connecting) failed; `attempt` counts from 0. */
export function afterOfferError(error: unknown, attempt: number): OfferOutcome {
  if (!(error instanceof ApiError)) {
    const what = error instanceof Error ? error.message : String(error);
    return { kind: "hls", reason: `WebRTC could not start: ${what}` };
  }
  if (error.status === 401) return { kind: "signIn" };
  if (error.status === 503 && errorCode(error) === "camera_offline") {
    const asked = error.retryAfterS === null ? 0 : error.retryAfterS * 1000;
    return { kind: "offline", delayMs: Math.max(backoff(attempt), Math.min(asked, 8_000)) };
  }
  return { kind: "hls", reason: `the server refused WebRTC (${error.status}${codeSuffix(error)})` };
}

const codeSuffix = (error: ApiError): string => {
  const code = errorCode(error);
  return code ? ` ${code}` : "";
};

export interface WatchState {
  nowMs: number;
  startedMs: number; // when this connection was started (the offer sent)
  firstFrameMs: number | null; // when its first frame was decoded
  lastFrameMs: number | null; // when its frame count last went up
  connection: RTCPeerConnectionState;
  /** WebRTC played in this view before (a restart, not a first try). */
  played: boolean;
  /** Restarts since the last frame. */
  restarts: number;
  /** The page is shown (a hidden page's frames are not counted on). */
  visible: boolean;
}

export type WatchAction = "ok" | "restart" | "hls";

/**
 * A first try that shows no frame within 3 s, or fails, goes to HLS (no UDP path, a proxy in
 * the way). A view that played goes on over WebRTC when its frames stop or its connection
 * fails (the server ends sessions when the camera goes away): restart, and only after
 * MAX_RESTARTS in a row without a frame give up for HLS.
 */
export function watchWebrtc(s: WatchState): WatchAction {
  const failed = s.connection === "failed" || s.connection === "closed";
  const giveUp: WatchAction = s.played && s.restarts < MAX_RESTARTS ? "restart" : "hls";
  if (s.firstFrameMs === null) {
    if (failed || s.nowMs - s.startedMs >= FIRST_FRAME_MS) return giveUp;
    return "ok";
  }
  if (failed) return "restart";
  if (s.visible && s.nowMs - (s.lastFrameMs ?? s.firstFrameMs) >= FRAMES_STOPPED_MS) return "restart";
  return "ok";
}
