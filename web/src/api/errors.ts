/** What can go wrong when the app talks to the server, as values the screens can show. */
import type { ErrorBody } from "./types";

/** The server answered with an error status; `body` is its JSON (`{"detail": ...}`). */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    /** Seconds the server asked us to wait (Retry-After), when it said. */
    readonly retryAfterS: number | null = null,
  ) {
    super(body.detail);
  }

  get detail(): string {
    return this.body.detail;
  }
}

/** The server could not be reached at all (offline, DNS, refused, aborted by a timeout). */
export class NetworkError extends Error {
  override readonly name = "NetworkError";

  constructor(override readonly cause?: unknown) {
    super("The server cannot be reached. Check your connection; the app keeps trying.");
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null || value.trim() === "") return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** An error body from any response text: the server's JSON when it is one, else a sentence. */
export function parseErrorBody(status: number, text: string): ErrorBody {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && typeof (parsed as ErrorBody).detail === "string") {
      return parsed as ErrorBody;
    }
  } catch {
    // not JSON (a proxy's HTML page, an empty body): fall through
  }
  return { detail: `The server answered ${status}${text ? "" : " with no explanation"}.` };
}

/** A sentence for a person, whatever the error. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 || (error.status === 503 && error.retryAfterS !== null)) {
      const wait = error.retryAfterS;
      return wait === null ? error.detail : `${error.detail} (try again in ${formatWait(wait)})`;
    }
    return error.detail;
  }
  if (error instanceof NetworkError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} min`;
}
