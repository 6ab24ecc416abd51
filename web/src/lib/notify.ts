/**
 * The service worker's decisions as pure functions: which notification a Web Push payload
 * shows, which older ones it replaces (iOS ignores `tag`, so the worker closes them itself),
 * and where a tap leads. No DOM or worker globals here: the tests run it in Node.
 */

/** What the server sends (the issue-10 contract); every field may be missing in a bad push. */
export interface PushPayload {
  type?: "alert" | "clip_ready" | string;
  title?: string | null;
  body?: string | null;
  image?: string | null;
  event_id?: string | null;
  camera?: string | null;
  camera_name?: string | null;
  kind?: string | null;
  at_ms?: number | null;
  url?: string | null;
  tag?: string | null;
}

export interface NotificationData {
  url: string;
  event_id: string | null;
  camera: string | null;
  kind: string | null;
  at_ms: number | null;
}

/** NotificationOptions with the fields TypeScript's DOM types leave out (image, renotify, timestamp). */
export interface ShownNotification {
  title: string;
  options: {
    body: string;
    tag: string;
    icon: string;
    badge: string;
    image?: string;
    renotify: boolean;
    silent: boolean;
    requireInteraction: boolean;
    timestamp: number;
    data: NotificationData;
  };
}

const ICON = "/icon-192.png";
const BADGE = "/badge-96.png";

/** The payload from the push's bytes as text; anything unreadable still gives a (generic) one. */
export function parsePayload(text: string | null): PushPayload {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as PushPayload) : {};
  } catch {
    return { body: text.slice(0, 200) };
  }
}

/** Only this app's own paths are opened by a tap (never another origin). */
export function safeAppPath(url: string | null | undefined, fallback = "/events"): string {
  if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//") || url.includes("\\")) return fallback;
  return url;
}

const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);

export function notificationFor(p: PushPayload, nowMs: number): ShownNotification {
  const camera = str(p.camera_name) ?? str(p.camera) ?? "your door";
  const eventId = str(p.event_id);
  const kind = str(p.kind);
  const isRing = kind === "ring";
  const clipReady = p.type === "clip_ready";
  const title =
    str(p.title) ??
    (clipReady ? `Clip saved: ${camera}` : isRing ? `Someone is at ${camera}` : kind ? `Motion at ${camera}` : "Doorbell");
  const body = str(p.body) ?? (clipReady ? "Tap to watch it." : isRing ? "Tap to see who it is." : "Tap to open.");
  // A saved clip comes without a tag: it takes over its alert's (ring-<camera> or
  // motion-<camera>), so the ring's notification becomes "Clip saved" instead of a second one.
  const alertTag = clipReady && str(p.camera) && kind ? `${isRing ? "ring" : "motion"}-${str(p.camera)}` : null;
  const tag = str(p.tag) ?? alertTag ?? (eventId ? `event-${eventId}` : "doorbell");
  const url = safeAppPath(p.url, eventId ? `/events/${encodeURIComponent(eventId)}` : "/events");
  const image = str(p.image);
  return {
    title,
    options: {
      body,
      tag,
      icon: ICON,
      badge: BADGE,
      ...(image && /^(https?:\/\/|\/)/.test(image) ? { image } : {}),
      // A new ring alerts even though it replaces the last one; a saved clip only updates it.
      renotify: isRing && !clipReady,
      silent: clipReady,
      requireInteraction: false,
      timestamp: typeof p.at_ms === "number" ? p.at_ms : nowMs,
      data: { url, event_id: eventId, camera: str(p.camera), kind, at_ms: typeof p.at_ms === "number" ? p.at_ms : null },
    },
  };
}

/** Of the notifications shown now, those the new one replaces: the same tag (iOS does not do it). */
export function toClose<N extends { tag: string }>(shown: readonly N[], next: ShownNotification): N[] {
  return shown.filter((n) => n.tag === next.options.tag);
}

export interface WindowLike {
  url: string;
  focused: boolean;
  visibilityState: string;
}

/** The app window a tap should bring forward: a focused one, else a visible one, else any. */
export function pickWindow<W extends WindowLike>(windows: readonly W[], origin: string): W | null {
  const ours = windows.filter((w) => w.url.startsWith(origin + "/") || w.url === origin);
  return ours.find((w) => w.focused) ?? ours.find((w) => w.visibilityState === "visible") ?? ours[0] ?? null;
}
