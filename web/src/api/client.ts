/**
 * The one way the app talks to the server: fetch with the session cookie, the CSRF header on
 * unsafe methods, error bodies turned into ApiError, a 401 sent to the sign-in page.
 */
import { ApiError, NetworkError, parseErrorBody, parseRetryAfter } from "./errors";
import type {
  ApiToken,
  Camera,
  Device,
  DeviceIn,
  EventDetail,
  EventPage,
  NewApiToken,
  Session,
  SessionInfo,
  WebRtcInfo,
} from "./types";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export const UNSAFE_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** A 401 is an answer (sign-in, session probe), not a reason to leave the page. */
  expectUnauthorized?: boolean;
  /** The Accept header (JSON unless a download says otherwise). */
  accept?: string;
  /** A body sent as it is, with its own Content-Type (an SDP offer), instead of JSON `body`. */
  text?: { type: string; data: string };
  /** Let the request outlive the page (a session ended on pagehide). */
  keepalive?: boolean;
}

/** A WHEP exchange's result: the SDP answer and the session's URL (to DELETE it). */
export interface WhepAnswer {
  sdp: string;
  location: string;
}

export interface ClientOptions {
  fetch?: typeof fetch;
  now?: () => number;
  /** Called on a 401 from the server: the app sends the person to sign in. */
  onUnauthorized?: () => void;
}

/** "/api/v1/events" plus a query string (arrays repeat the key; null/undefined are left out). */
export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export class ApiClient {
  private csrfToken: string | null = null;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  onUnauthorized: (() => void) | undefined;

  constructor(options: ClientOptions = {}) {
    // Bound: a bare window.fetch called as a method of another object throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
    this.onUnauthorized = options.onUnauthorized;
  }

  setCsrfToken(token: string | null): void {
    this.csrfToken = token;
  }

  /** Headers for a request of this method (exported for downloads that read the body themselves). */
  headers(method: string, hasBody: boolean | string, accept = "application/json"): Headers {
    const headers = new Headers({ Accept: accept });
    if (hasBody) headers.set("Content-Type", typeof hasBody === "string" ? hasBody : "application/json");
    if (UNSAFE_METHODS.has(method) && this.csrfToken) headers.set("X-CSRF-Token", this.csrfToken);
    return headers;
  }

  /** The raw response of a successful request (status < 400); errors thrown as ApiError/NetworkError. */
  async raw(method: Method, path: string, options: RequestOptions = {}): Promise<Response> {
    const raw = options.text;
    const hasBody = raw?.type ?? options.body !== undefined;
    let response: Response;
    try {
      response = await this.fetchImpl(buildUrl(path, options.query), {
        method,
        credentials: "same-origin",
        headers: this.headers(method, hasBody, options.accept),
        body: raw ? raw.data : options.body !== undefined ? JSON.stringify(options.body) : undefined,
        signal: options.signal,
        ...(options.keepalive ? { keepalive: true } : {}),
      });
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new NetworkError(error);
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    const error = new ApiError(
      response.status,
      parseErrorBody(response.status, text),
      parseRetryAfter(response.headers.get("Retry-After"), this.now()),
    );
    if (response.status === 401 && !options.expectUnauthorized) this.onUnauthorized?.();
    throw error;
  }

  async json<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.raw(method, path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  // --- session -----------------------------------------------------------------------------

  async signIn(username: string, password: string): Promise<Session> {
    const session = await this.json<Session>("POST", "/api/v1/session", {
      body: { username, password },
      expectUnauthorized: true,
    });
    this.csrfToken = session.csrf_token;
    return session;
  }

  /** The current session, or null when not signed in. */
  async currentSession(): Promise<Session | null> {
    try {
      const session = await this.json<Session>("GET", "/api/v1/session", { expectUnauthorized: true });
      this.csrfToken = session.csrf_token;
      return session;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  }

  async signOut(): Promise<void> {
    await this.json<void>("DELETE", "/api/v1/session", { expectUnauthorized: true });
    this.csrfToken = null;
  }

  sessions(): Promise<{ sessions: SessionInfo[] }> {
    return this.json("GET", "/api/v1/sessions");
  }

  revokeSession(id: string): Promise<void> {
    return this.json("DELETE", `/api/v1/sessions/${encodeURIComponent(id)}`);
  }

  changePassword(current: string, next: string): Promise<void> {
    return this.json("POST", "/api/v1/account/password", {
      body: { current_password: current, new_password: next },
    });
  }

  tokens(): Promise<{ tokens: ApiToken[] }> {
    return this.json("GET", "/api/v1/tokens");
  }

  createToken(name: string): Promise<NewApiToken> {
    return this.json("POST", "/api/v1/tokens", { body: { name } });
  }

  revokeToken(id: string): Promise<void> {
    return this.json("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  }

  // --- cameras ----------------------------------------------------------------------------

  cameras(signal?: AbortSignal): Promise<Camera[]> {
    return this.json("GET", "/api/v1/cameras", { signal });
  }

  camera(id: string, signal?: AbortSignal): Promise<Camera> {
    return this.json("GET", `/api/v1/cameras/${encodeURIComponent(id)}`, { signal });
  }

  // --- WebRTC live view (WHEP) ---------------------------------------------------------------

  webrtc(signal?: AbortSignal): Promise<WebRtcInfo> {
    return this.json("GET", "/api/v1/webrtc", { signal });
  }

  /** POSTs an SDP offer (WHEP); the answer and the session's URL, resolved against the POST's. */
  async whepOffer(camera: string, offer: string, signal?: AbortSignal): Promise<WhepAnswer> {
    const path = `/api/v1/cameras/${encodeURIComponent(camera)}/whep`;
    const response = await this.raw("POST", path, {
      text: { type: "application/sdp", data: offer },
      accept: "application/sdp",
      signal,
    });
    const location = response.headers.get("Location");
    if (!location) throw new NetworkError(new Error("the WHEP answer has no Location"));
    return { sdp: await response.text(), location: resolvePath(location, path) };
  }

  /** Ends a WHEP session (204, or 404 when the server ended it already: both are fine). */
  async whepEnd(location: string, keepalive = false): Promise<void> {
    try {
      await this.raw("DELETE", location, { keepalive, expectUnauthorized: true });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 401)) return;
      throw error;
    }
  }

  // --- events -----------------------------------------------------------------------------

  events(
    filter: { camera?: string; kinds?: string[]; start?: number; end?: number; cursor?: string | null; limit?: number },
    signal?: AbortSignal,
  ): Promise<EventPage> {
    return this.json("GET", "/api/v1/events", {
      signal,
      query: {
        camera: filter.camera,
        kind: filter.kinds && filter.kinds.length > 0 ? filter.kinds.join(",") : undefined,
        start: filter.start,
        end: filter.end,
        cursor: filter.cursor ?? undefined,
        limit: filter.limit,
      },
    });
  }

  event(id: string, signal?: AbortSignal): Promise<EventDetail> {
    return this.json("GET", `/api/v1/events/${encodeURIComponent(id)}`, { signal });
  }

  deleteEvents(ids: string[]): Promise<{ deleted: string[]; not_found: string[] }> {
    return this.json("POST", "/api/v1/events/delete", { body: { ids } });
  }

  clearEvents(): Promise<{ deleted: number }> {
    return this.json("DELETE", "/api/v1/events");
  }

  // --- push -------------------------------------------------------------------------------

  webPushKey(): Promise<{ public_key: string }> {
    return this.json("GET", "/api/v1/push/web");
  }

  registerDevice(device: DeviceIn): Promise<Device> {
    return this.json("POST", "/api/v1/devices", { body: device });
  }

  deleteDevice(id: string): Promise<void> {
    return this.json("DELETE", `/api/v1/devices/${encodeURIComponent(id)}`);
  }
}

/** A Location header (absolute path, relative, or same-origin URL) as a path for fetch. */
export function resolvePath(location: string, base: string): string {
  const url = new URL(location, new URL(base, "http://origin.invalid"));
  return url.origin === "http://origin.invalid" ? url.pathname + url.search : url.href;
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** URLs the browser loads itself (img, video, hls.js), authenticated by the session cookie. */
export const mediaUrls = {
  snapshot: (camera: string) => `/api/v1/cameras/${encodeURIComponent(camera)}/snapshot.jpg`,
  live: (camera: string) => `/api/v1/cameras/${encodeURIComponent(camera)}/live.m3u8`,
  rewind: (camera: string) => `/api/v1/cameras/${encodeURIComponent(camera)}/rewind.m3u8`,
  clip: (camera: string) => `/api/v1/cameras/${encodeURIComponent(camera)}/clip`,
  eventStream: () => "/api/v1/events/stream",
};

/** The app's one client. */
export const api = new ApiClient();
