/** How the service worker answers a request: the app shell from its cache, everything else untouched. */

export type Strategy = "page" | "cached" | "network";

/** Paths that are the server's, never the app's (the server answers them; never cached). */
const SERVER_PREFIXES = ["/api/", "/internal/", "/docs", "/openapi.json", "/healthz", "/metrics"];

export function strategyFor(
  req: { url: string; method: string; mode: string },
  origin: string,
  shellFiles: ReadonlySet<string>,
): Strategy {
  if (req.method !== "GET") return "network";
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return "network";
  }
  if (url.origin !== origin) return "network";
  if (SERVER_PREFIXES.some((p) => url.pathname === p || url.pathname.startsWith(p))) return "network";
  if (req.mode === "navigate") return "page";
  if (shellFiles.has(url.pathname) && url.search === "") return "cached";
  return "network";
}

export const CACHE_PREFIX = "doorbell-shell-";

/** Caches of other builds, to delete once this one is active. */
export function staleCaches(names: readonly string[], current: string): string[] {
  return names.filter((n) => n.startsWith(CACHE_PREFIX) && n !== current);
}
