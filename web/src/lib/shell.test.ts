import { describe, expect, it } from "vitest";
import { staleCaches, strategyFor } from "./shell";

const origin = "https://door.example";
const files = new Set(["/", "/assets/index-abc123.js", "/manifest.webmanifest"]);
const get = (path: string, mode = "no-cors") => ({ url: origin + path, method: "GET", mode });

describe("strategyFor", () => {
  it("answers app pages from the shell and the build's files from the cache", () => {
    expect(strategyFor(get("/events/e1", "navigate"), origin, files)).toBe("page");
    expect(strategyFor(get("/", "navigate"), origin, files)).toBe("page");
    expect(strategyFor(get("/assets/index-abc123.js", "cors"), origin, files)).toBe("cached");
  });
  it("never touches the API, the docs, other origins, writes or files not in this build", () => {
    expect(strategyFor(get("/api/v1/cameras", "cors"), origin, files)).toBe("network");
    expect(strategyFor(get("/api/v1/cameras/front/snapshot.jpg"), origin, files)).toBe("network");
    expect(strategyFor(get("/docs", "navigate"), origin, files)).toBe("network");
    expect(strategyFor(get("/healthz", "navigate"), origin, files)).toBe("network");
    expect(strategyFor({ url: "https://cdn.example/x.js", method: "GET", mode: "cors" }, origin, files)).toBe("network");
    expect(strategyFor({ url: origin + "/", method: "POST", mode: "navigate" }, origin, files)).toBe("network");
    expect(strategyFor(get("/assets/index-old999.js"), origin, files)).toBe("network");
    expect(strategyFor(get("/manifest.webmanifest?x=1"), origin, files)).toBe("network");
  });
});

describe("staleCaches", () => {
  it("lists this app's caches of other builds only", () => {
    expect(staleCaches(["doorbell-shell-a", "doorbell-shell-b", "other"], "doorbell-shell-b")).toEqual(["doorbell-shell-a"]);
  });
});
