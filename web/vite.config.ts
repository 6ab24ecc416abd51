/// <reference types="vitest/config" />
/**
 * The app's build and dev server. `npm run dev` proxies the API to DOORBELL_API
 * (default http://127.0.0.1:8000); with DOORBELL_DEV_TOKEN set, the proxy adds it as a bearer
 * token (for servers without sign-in; dev only, never in a build).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin, type ProxyOptions } from "vite";

const require = createRequire(import.meta.url);

/** The API docs page (/docs) loads Swagger UI from the server: its two files go to dist/swagger/. */
function swaggerAssets(): Plugin {
  return {
    name: "doorbell-swagger-assets",
    apply: "build",
    generateBundle() {
      const dir = dirname(require.resolve("swagger-ui-dist/package.json"));
      for (const name of ["swagger-ui.css", "swagger-ui-bundle.js"]) {
        this.emitFile({ type: "asset", fileName: `swagger/${name}`, source: readFileSync(join(dir, name)) });
      }
    },
  };
}

const api = process.env.DOORBELL_API ?? "http://127.0.0.1:8000";
const devToken = process.env.DOORBELL_DEV_TOKEN;

function proxy(): ProxyOptions {
  return {
    target: api,
    changeOrigin: false,
    configure(server) {
      if (!devToken) return;
      server.on("proxyReq", (req) => {
        if (!req.getHeader("authorization")) req.setHeader("authorization", `Bearer ${devToken}`);
      });
    },
  };
}

/** The policy the server sends with the app (api/http/webapp.py); `npm run preview` sends it too. */
export const APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export default defineConfig({
  plugins: [preact(), swaggerAssets()],
  server: {
    proxy: { "/api": proxy(), "/healthz": proxy() },
  },
  preview: {
    proxy: { "/api": proxy(), "/healthz": proxy() },
    headers: { "Content-Security-Policy": APP_CSP },
  },
  build: {
    target: "es2020",
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
