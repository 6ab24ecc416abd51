// After the build: a gzip copy beside every text file of dist/ (the server sends it to
// browsers that accept gzip: the app's first load shrinks to about a third). Node's own zlib;
// no dependency.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants, gzipSync } from "node:zlib";

const TEXT = /\.(js|css|html|svg|webmanifest|json|map)$/;
const MIN_BYTES = 1024; // below this, gzip saves less than its own headers cost

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (TEXT.test(name) && statSync(path).size >= MIN_BYTES) {
      writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: constants.Z_BEST_COMPRESSION }));
    }
  }
}

walk(new URL("../dist", import.meta.url).pathname);
