import { describe, expect, it } from "vitest";
import { formatBytes, percent, readWithProgress, type Progress } from "./download";

function chunked(parts: number[], headers: Record<string, string>): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const n of parts) controller.enqueue(new Uint8Array(n));
      controller.close();
    },
  });
  return new Response(body, { headers });
}

describe("readWithProgress", () => {
  it("reports each chunk against Content-Length and returns the whole body", async () => {
    const seen: Progress[] = [];
    const blob = await readWithProgress(chunked([100, 200, 700], { "Content-Length": "1000", "Content-Type": "video/mp4" }), (p) => seen.push(p));
    expect(blob.size).toBe(1000);
    expect(blob.type).toBe("video/mp4");
    expect(seen.map(percent)).toEqual([0, 10, 30, 100]);
  });
  it("copes without a length", async () => {
    const seen: Progress[] = [];
    await readWithProgress(chunked([5], {}), (p) => seen.push(p));
    expect(seen.at(-1)).toEqual({ received: 5, total: null });
    expect(percent({ received: 5, total: null })).toBeNull();
  });
  it("stops when cancelled", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(readWithProgress(chunked([5, 5], {}), () => undefined, controller.signal)).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("formatBytes", () => {
  it("uses a readable unit", () => {
    expect([formatBytes(512), formatBytes(2048), formatBytes(2.5 * 1024 * 1024)]).toEqual(["512 B", "2 kB", "2.5 MB"]);
  });
});
