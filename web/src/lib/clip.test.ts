import { describe, expect, it } from "vitest";
import { bufferSeconds, checkLast, checkRange, clipFileName, clipQuery, defaultSeconds } from "./clip";

const T0 = 1_796_000_000_000;
const buffer = { start_ms: T0, end_ms: T0 + 600_500 }; // 10 minutes held

describe("checkLast", () => {
  it("accepts 1 s up to what the buffer holds", () => {
    expect(checkLast(30, buffer)).toEqual({ ok: true, request: { kind: "last", seconds: 30, format: "mp4" } });
    expect(checkLast(600, buffer, "zip").ok).toBe(true);
  });
  it("refuses more than the buffer, less than a second, fractions, and an empty buffer", () => {
    expect(checkLast(601, buffer)).toEqual({ ok: false, problem: "The buffer holds 600 s now: choose at most 600 s." });
    expect(checkLast(0, buffer).ok).toBe(false);
    expect(checkLast(2.5, buffer).ok).toBe(false);
    expect(checkLast(Number.NaN, buffer).ok).toBe(false);
    expect(checkLast(5, { start_ms: null, end_ms: null })).toEqual({ ok: false, problem: "Nothing is recorded yet." });
  });
  it("caps the buffer at 15 minutes", () => {
    expect(bufferSeconds({ start_ms: 0, end_ms: 3_600_000 })).toBe(900);
  });
});

describe("checkRange", () => {
  it("accepts a marked range inside the buffer", () => {
    expect(checkRange(T0 + 1_000, T0 + 31_000, buffer)).toEqual({
      ok: true,
      request: { kind: "range", startMs: T0 + 1_000, endMs: T0 + 31_000, format: "mp4" },
    });
  });
  it("refuses unmarked, reversed, too short, too long and evicted ranges", () => {
    expect(checkRange(null, T0, buffer).ok).toBe(false);
    expect(checkRange(T0 + 5_000, T0 + 5_000, buffer)).toEqual({ ok: false, problem: "The end must come after the start." });
    expect(checkRange(T0 + 5_000, T0 + 5_500, buffer).ok).toBe(false);
    expect(checkRange(T0, T0 + 901_000, buffer).ok).toBe(false);
    expect(checkRange(T0 - 60_000, T0 - 1_000, buffer)).toEqual({ ok: false, problem: "That part is no longer in the buffer." });
  });
  it("accepts a range partly outside (the server gives the part inside)", () => {
    expect(checkRange(T0 - 5_000, T0 + 5_000, buffer).ok).toBe(true);
  });
});

describe("clipQuery and the file name", () => {
  it("asks the server in its terms", () => {
    expect(clipQuery({ kind: "last", seconds: 30, format: "mp4" })).toEqual({ seconds: "30", format: "mp4" });
    expect(clipQuery({ kind: "range", startMs: 10.4, endMs: 20.2, format: "zip" })).toEqual({ start: "10", end: "21", format: "zip" });
  });
  it("takes the server's file name, made safe, or makes one", () => {
    expect(clipFileName('attachment; filename="front-20261123T101500Z-30s.mp4"', "front", "mp4", 0)).toBe("front-20261123T101500Z-30s.mp4");
    expect(clipFileName("attachment; filename*=UTF-8''a%2Fb.zip", "front", "zip", 0)).toBe("a_b.zip");
    expect(clipFileName(null, "front", "mp4", Date.UTC(2026, 10, 23, 10, 15))).toBe("front-20261123T101500Z.mp4");
  });
});

describe("defaultSeconds", () => {
  it("offers 30 s, or all the buffer holds when that is less", () => {
    expect(defaultSeconds(900)).toBe(30);
    expect(defaultSeconds(16)).toBe(16);
    expect(defaultSeconds(0)).toBe(1);
  });
});
