/**
 * What the live player does about an hls.js error or a stall: a pure decision from the error's
 * type and details and what was tried already. The player carries it out.
 */

export type Action =
  | { kind: "ignore" }
  | { kind: "startLoad"; delayMs: number } // network: reload from where it was, after a backoff
  | { kind: "recoverMedia" } // hls.recoverMediaError()
  | { kind: "swapAudioCodecAndRecover" }
  | { kind: "restart"; delayMs: number } // a new player from scratch
  | { kind: "signIn" } // the session ended
  | { kind: "fail"; message: string }; // nothing to retry (unknown camera)

export interface ErrorInfo {
  type: string; // hls.js ErrorTypes: networkError, mediaError, muxError, otherError, ...
  details: string; // hls.js ErrorDetails
  fatal: boolean;
  status?: number | undefined; // HTTP status of a failed load, when there was a response
}

export interface History {
  networkRetries: number; // consecutive network recoveries without progress
  lastMediaRecoveryMs: number | null; // when recoverMediaError was last tried
  mediaRecoveries: number; // recoverMediaError calls since the last progress
  nowMs: number;
}

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 8_000;

/** 0.5, 1, 2, 4, 8, 8 ... s: fast at first (a blip), never hammering a server that is down. */
export function backoff(attempt: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt));
}

export function decide(error: ErrorInfo, history: History): Action {
  if (error.status === 401) return { kind: "signIn" };
  if (!error.fatal) return { kind: "ignore" }; // hls.js retries and nudges these itself
  switch (error.type) {
    case "networkError":
      if (error.status === 404 && /^manifest/.test(error.details)) {
        return { kind: "fail", message: "This camera is not on the server any more." };
      }
      // 403: a signed segment URL expired: a fresh playlist signs new ones, so reload.
      // No response (offline), 5xx, timeouts: try again, backing off.
      if (/^manifest/.test(error.details)) return { kind: "restart", delayMs: backoff(history.networkRetries) };
      return { kind: "startLoad", delayMs: backoff(history.networkRetries) };
    case "mediaError": {
      const recent = history.lastMediaRecoveryMs !== null && history.nowMs - history.lastMediaRecoveryMs < 3_000;
      if (history.mediaRecoveries === 0 || !recent) return { kind: "recoverMedia" };
      if (history.mediaRecoveries === 1) return { kind: "swapAudioCodecAndRecover" };
      return { kind: "restart", delayMs: backoff(history.mediaRecoveries - 2) };
    }
    default:
      return { kind: "restart", delayMs: backoff(history.networkRetries) };
  }
}

export interface StallState {
  playing: boolean; // the person wants it to play (not paused by them)
  lastProgressMs: number; // when currentTime last advanced
  nowMs: number;
  online: boolean;
}

export const STALL_NUDGE_MS = 2_500;
export const STALL_RESTART_MS = 8_000;

/**
 * A watchdog for stalls hls.js does not report: video that stopped moving. Jump to the live
 * edge after a short stall; start again after a long one (not while the device is offline:
 * the network's return will restart it).
 */
export function stallAction(s: StallState): "none" | "seekLive" | "restart" {
  if (!s.playing || !s.online) return "none";
  const stalled = s.nowMs - s.lastProgressMs;
  if (stalled >= STALL_RESTART_MS) return "restart";
  if (stalled >= STALL_NUDGE_MS) return "seekLive";
  return "none";
}
