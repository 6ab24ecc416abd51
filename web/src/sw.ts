/// <reference lib="webworker" />
/**
 * The service worker (built to /sw.js, scope /): keeps this build's app shell so the app opens
 * offline, shows Web Push notifications, and opens the right page when one is tapped. It never
 * caches API answers.
 */
import { notificationFor, parsePayload, pickWindow, toClose } from "./lib/notify";
import { CACHE_PREFIX, staleCaches, strategyFor } from "./lib/shell";

declare const self: ServiceWorkerGlobalScope;
declare const __SHELL_FILES__: string[];
declare const __BUILD_VERSION__: string;

const CACHE = CACHE_PREFIX + __BUILD_VERSION__;
const SHELL = new Set(__SHELL_FILES__);
const PAGE_TIMEOUT_MS = 4_000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(__SHELL_FILES__.map((f) => new Request(f, { cache: "reload" })))),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(staleCaches(names, CACHE).map((n) => caches.delete(n)));
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if ((event.data as { type?: string } | null)?.type === "skip-waiting") void self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const strategy = strategyFor(event.request, self.location.origin, SHELL);
  if (strategy === "network") return; // the browser does it, uncached
  if (strategy === "cached") {
    event.respondWith(caches.match(event.request, { cacheName: CACHE, ignoreVary: true }).then((hit) => hit ?? fetch(event.request)));
    return;
  }
  event.respondWith(page(event.request));
});

/** An app page: the server's index.html when it answers soon, else this build's copy. */
async function page(request: Request): Promise<Response> {
  const cached = caches.match("/", { cacheName: CACHE, ignoreVary: true });
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), PAGE_TIMEOUT_MS);
    const response = await fetch(request, { signal: controller.signal });
    clearTimeout(timer);
    // An index.html of a newer build than this worker is fine (the new worker installs next).
    if (response.ok || !(await cached)) return response;
    return (await cached) ?? response;
  } catch {
    return (await cached) ?? Response.error();
  }
}

self.addEventListener("push", (event) => {
  // Always show a notification, whatever arrived: iOS revokes the subscription of a site
  // whose pushes show nothing.
  const text = (() => {
    try {
      return event.data?.text() ?? null;
    } catch {
      return null;
    }
  })();
  const shown = notificationFor(parsePayload(text), Date.now());
  event.waitUntil(
    (async () => {
      try {
        const open = await self.registration.getNotifications();
        for (const n of toClose(open, shown)) n.close();
      } catch {
        // getNotifications can fail; showing the new one matters more
      }
      await self.registration.showNotification(shown.title, shown.options as NotificationOptions);
    })(),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data as { url?: string } | null;
  const url = typeof data?.url === "string" && data.url.startsWith("/") ? data.url : "/events";
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const target = pickWindow(windows, self.location.origin);
      if (target) {
        const focused = await target.focus().catch(() => target);
        // The app routes it itself, without a reload (src/main.tsx listens for "open").
        focused.postMessage({ type: "open", url });
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
