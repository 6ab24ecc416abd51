/**
 * The service worker's build (`npm run build` runs it after the app's): src/sw.ts bundled into
 * one classic script at dist/sw.js (a fixed name, so the browser finds updates), with the
 * list of this build's shell files and a version made from their content.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig } from "vite";
import { buildVersion, shellFiles } from "./config/precache";

const dist = resolve(__dirname, "dist");
if (!existsSync(resolve(dist, "index.html"))) {
  throw new Error("dist/index.html is missing: build the app first (npm run build does both)");
}
const files = shellFiles(dist);

export default defineConfig({
  publicDir: false,
  define: {
    __SHELL_FILES__: JSON.stringify(files),
    __BUILD_VERSION__: JSON.stringify(buildVersion(dist, files)),
  },
  build: {
    outDir: dist,
    emptyOutDir: false,
    copyPublicDir: false,
    sourcemap: false,
    target: "es2020",
    rollupOptions: {
      input: resolve(__dirname, "src/sw.ts"),
      output: { format: "iife", entryFileNames: "sw.js", inlineDynamicImports: true },
    },
  },
});
