/** What the service worker caches as the app shell: read from the app's build in dist/. */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Files under dist/ that the shell needs offline (never the API docs, never sw.js itself). */
export function shellFiles(dist: string): string[] {
  const files: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const rel = prefix + name;
      if (statSync(join(dir, name)).isDirectory()) {
        if (rel === "assets") walk(join(dir, name), rel + "/");
        continue;
      }
      if (rel === "sw.js" || rel === "index.html" || rel.endsWith(".map")) continue;
      files.push("/" + rel);
    }
  };
  walk(dist, "");
  // The page itself under "/": the server answers app paths with index.html (and its CSP),
  // and has no /index.html route.
  return ["/", ...files];
}

/** A short version that changes whenever any shell file's content does. */
export function buildVersion(dist: string, files: string[]): string {
  const hash = createHash("sha256");
  for (const f of files) {
    const path = f === "/" ? join(dist, "index.html") : join(dist, f.slice(1));
    hash.update(f).update(readFileSync(path));
  }
  return hash.digest("hex").slice(0, 12);
}
