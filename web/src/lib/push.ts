/** Web Push on this device: can it, the VAPID key as bytes, and what the app remembers about its subscription. */
import type { QuietHours } from "../api/types";

export type PushSupport = "ok" | "insecure" | "ios-home-screen" | "unsupported";

export function pushSupport(env: {
  secure: boolean;
  serviceWorker: boolean;
  pushManager: boolean;
  notification: boolean;
  ios: boolean;
  standalone: boolean;
}): PushSupport {
  if (!env.secure) return "insecure";
  if (env.ios && !env.standalone) return "ios-home-screen"; // iOS 16.4+: only for apps on the Home Screen
  if (!env.serviceWorker || !env.pushManager || !env.notification) return "unsupported";
  return "ok";
}

export function browserPushSupport(): PushSupport {
  const ua = navigator.userAgent;
  const ios = /iPhone|iPad|iPod/.test(ua) || (ua.includes("Macintosh") && navigator.maxTouchPoints > 1);
  return pushSupport({
    secure: window.isSecureContext,
    serviceWorker: "serviceWorker" in navigator,
    pushManager: "PushManager" in window,
    notification: "Notification" in window,
    ios,
    standalone: matchMedia("(display-mode: standalone)").matches || (navigator as { standalone?: boolean }).standalone === true,
  });
}

/** The server's key (base64url, RFC 7515 without padding) as the bytes pushManager.subscribe wants. */
export function base64UrlToBytes(value: string): Uint8Array {
  const b64 = value.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(value.length / 4) * 4, "=");
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** "Chrome on Android": a name for the delivery log. */
export function deviceName(ua: string): string {
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua)
    ? "Android"
    : /iPhone|iPad|iPod/.test(ua)
      ? "iPhone"
      : /Mac OS X/.test(ua)
        ? "Mac"
        : /Windows/.test(ua)
          ? "Windows"
          : /Linux/.test(ua)
            ? "Linux"
            : "this device";
  return `${browser} on ${os}`;
}

export interface PushChoices {
  cameras: string[] | null; // null: all
  motion: boolean;
  quiet: { start: string; end: string } | null;
}

export interface StoredPush extends PushChoices {
  deviceId: string;
}

const KEY = "doorbell.push";

export function loadStoredPush(): StoredPush | null {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "null") as StoredPush | null;
    return v && typeof v.deviceId === "string" ? v : null;
  } catch {
    return null;
  }
}

export function saveStoredPush(value: StoredPush | null): void {
  try {
    if (value) localStorage.setItem(KEY, JSON.stringify(value));
    else localStorage.removeItem(KEY);
  } catch {
    // private mode
  }
}

export function quietHours(choices: PushChoices, timezone: string): QuietHours | null {
  return choices.quiet ? { start: choices.quiet.start, end: choices.quiet.end, timezone } : null;
}
