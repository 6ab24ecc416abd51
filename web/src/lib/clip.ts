/**
 * Which clip a person asked for, checked before asking the server (which checks the same
 * again: this only saves a round trip and says it in words), and the request it makes.
 */

export type ClipFormat = "mp4" | "zip";

export type ClipRequest =
  | { kind: "last"; seconds: number; format: ClipFormat }
  | { kind: "range"; startMs: number; endMs: number; format: ClipFormat };

export interface BufferSpan {
  start_ms: number | null;
  end_ms: number | null;
}

export const MAX_CLIP_SECONDS = 900;

export type Check = { ok: true; request: ClipRequest } | { ok: false; problem: string };

/** The longest clip the buffer holds now (s), at least 1 when it holds anything. */
export const DEFAULT_SECONDS = 30;

export function bufferSeconds(buffer: BufferSpan): number {
  if (buffer.start_ms === null || buffer.end_ms === null) return 0;
  return Math.min(MAX_CLIP_SECONDS, Math.max(0, Math.floor((buffer.end_ms - buffer.start_ms) / 1000)));
}

/** What "the last N seconds" starts at: 30 s, or all the buffer holds when that is less. */
export function defaultSeconds(available: number): number {
  return Math.max(1, Math.min(DEFAULT_SECONDS, available));
}

export function checkLast(seconds: number, buffer: BufferSpan, format: ClipFormat = "mp4"): Check {
  const available = bufferSeconds(buffer);
  if (available < 1) return { ok: false, problem: "Nothing is recorded yet." };
  if (!Number.isFinite(seconds) || !Number.isInteger(seconds)) return { ok: false, problem: "Enter a whole number of seconds." };
  if (seconds < 1) return { ok: false, problem: "A clip is at least 1 second long." };
  if (seconds > available) {
    return { ok: false, problem: `The buffer holds ${available} s now: choose at most ${available} s.` };
  }
  return { ok: true, request: { kind: "last", seconds, format } };
}

export function checkRange(startMs: number | null, endMs: number | null, buffer: BufferSpan, format: ClipFormat = "mp4"): Check {
  if (startMs === null || endMs === null) return { ok: false, problem: "Mark where the clip starts and ends." };
  if (endMs <= startMs) return { ok: false, problem: "The end must come after the start." };
  if (endMs - startMs < 1000) return { ok: false, problem: "A clip is at least 1 second long." };
  if ((endMs - startMs) / 1000 > MAX_CLIP_SECONDS) return { ok: false, problem: "A clip is at most 15 minutes long." };
  if (buffer.start_ms === null || buffer.end_ms === null) return { ok: false, problem: "Nothing is recorded yet." };
  if (endMs <= buffer.start_ms || startMs >= buffer.end_ms) {
    return { ok: false, problem: "That part is no longer in the buffer." };
  }
  return { ok: true, request: { kind: "range", startMs, endMs, format } };
}

/** The query for `GET /api/v1/cameras/{id}/clip`. */
export function clipQuery(request: ClipRequest): Record<string, string> {
  if (request.kind === "last") return { seconds: String(request.seconds), format: request.format };
  return { start: String(Math.floor(request.startMs)), end: String(Math.ceil(request.endMs)), format: request.format };
}

/** The file name from Content-Disposition, else one made up from the camera and time. */
export function clipFileName(disposition: string | null, camera: string, format: ClipFormat, nowMs: number): string {
  const star = disposition?.match(/filename\*\s*=\s*UTF-8''([^;]+)/i);
  const plain = disposition?.match(/filename\s*=\s*"?([^";]+)"?/i);
  const raw = star?.[1] ? decodeURIComponent(star[1]) : plain?.[1];
  const safe = raw?.replace(/[^A-Za-z0-9._-]/g, "_");
  if (safe && safe.length > 0) return safe;
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${camera}-${stamp}.${format}`;
}
