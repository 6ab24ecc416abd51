import { describe, expect, it } from "vitest";
import { gapAt, gapBands, keyStep, markers, mediaToWall, playableTime, positionOf, wallAt, wallToMedia, type Frag } from "./scrubber";

const T0 = 1_796_000_000_000;
const bar = { start_ms: T0, end_ms: T0 + 900_000 }; // 15 minutes
const gap = { start_ms: T0 + 300_000, end_ms: T0 + 360_000 }; // down for a minute at 5:00

describe("bar position", () => {
  it("maps wall time to 0..1 and back", () => {
    expect(positionOf(T0, bar)).toBe(0);
    expect(positionOf(T0 + 450_000, bar)).toBe(0.5);
    expect(positionOf(T0 + 2_000_000, bar)).toBe(1);
    expect(wallAt(0.5, bar)).toBe(T0 + 450_000);
    expect(wallAt(-1, bar)).toBe(T0);
    expect(wallAt(positionOf(T0 + 123_456, bar), bar)).toBe(T0 + 123_456);
  });
  it("copes with an empty bar", () => {
    expect(positionOf(T0, { start_ms: T0, end_ms: T0 })).toBe(1);
  });
});

describe("gaps", () => {
  it("finds the gap a time falls in (end exclusive)", () => {
    expect(gapAt(T0 + 300_000, [gap])).toEqual(gap);
    expect(gapAt(T0 + 360_000, [gap])).toBeNull();
    expect(gapAt(T0 + 299_999, [gap])).toBeNull();
  });
  it("moves a wanted time out of a gap: forwards to the video after, backwards to the video before", () => {
    expect(playableTime(T0 + 320_000, bar, [gap])).toBe(T0 + 360_000);
    expect(playableTime(T0 + 320_000, bar, [gap], true)).toBe(T0 + 299_999);
    expect(playableTime(T0 + 100_000, bar, [gap])).toBe(T0 + 100_000);
    expect(playableTime(T0 - 5_000, bar, [gap])).toBe(T0);
  });
  it("goes back before a gap at the end of the buffer", () => {
    const tail = { start_ms: T0 + 880_000, end_ms: T0 + 900_000 };
    expect(playableTime(T0 + 890_000, bar, [tail])).toBe(T0 + 879_999);
  });
  it("draws gaps clipped to the bar", () => {
    const bands = gapBands([gap, { start_ms: T0 - 60_000, end_ms: T0 + 90_000 }, { start_ms: 0, end_ms: 1 }], bar);
    expect(bands).toHaveLength(2);
    expect(bands[0]?.left).toBeCloseTo(1 / 3);
    expect(bands[0]?.width).toBeCloseTo(1 / 15);
    expect(bands[1]).toEqual({ left: 0, width: 0.1 });
  });
  it("places markers inside the bar only", () => {
    const m = markers([{ at_ms: T0 + 90_000 }, { at_ms: T0 - 1 }], bar);
    expect(m).toHaveLength(1);
    expect(m[0]?.position).toBeCloseTo(0.1);
  });
});

describe("wall time <-> media time", () => {
  // Three 1-s fragments, a 60-s gap (a discontinuity: media time runs on), two more.
  const frags: Frag[] = [
    { start: 0, duration: 1, programDateTime: T0 },
    { start: 1, duration: 1, programDateTime: T0 + 1_000 },
    { start: 2, duration: 1, programDateTime: T0 + 2_000 },
    { start: 3, duration: 1, programDateTime: T0 + 63_000 },
    { start: 4, duration: 1, programDateTime: T0 + 64_000 },
  ];
  it("maps into a fragment", () => {
    expect(wallToMedia(frags, T0 + 1_500)).toBeCloseTo(1.5);
    expect(wallToMedia(frags, T0 + 64_250)).toBeCloseTo(4.25);
  });
  it("maps a time in a gap to the first frame after it", () => {
    expect(wallToMedia(frags, T0 + 30_000)).toBe(3);
  });
  it("clamps outside the playlist", () => {
    expect(wallToMedia(frags, T0 - 10_000)).toBe(0);
    expect(wallToMedia(frags, T0 + 999_000)).toBeCloseTo(4.9);
    expect(wallToMedia([], T0)).toBeNull();
  });
  it("maps media time back to wall time across the gap", () => {
    expect(mediaToWall(frags, 0.5)).toBe(T0 + 500);
    expect(mediaToWall(frags, 3.2)).toBe(T0 + 63_200);
    expect(mediaToWall(frags, 99)).toBe(T0 + 65_000);
    expect(mediaToWall([{ start: 0, duration: 1, programDateTime: null }], 0.5)).toBeNull();
  });
  it("round-trips", () => {
    for (const wall of [T0 + 10, T0 + 2_999, T0 + 63_001, T0 + 64_999]) {
      expect(mediaToWall(frags, wallToMedia(frags, wall) ?? -1)).toBe(wall);
    }
  });
});

describe("keys", () => {
  it("steps 5 s, 60 s with shift or page keys, and jumps to the ends", () => {
    expect(keyStep("ArrowLeft", false)).toBe(-5_000);
    expect(keyStep("ArrowRight", true)).toBe(60_000);
    expect(keyStep("PageDown", false)).toBe(-60_000);
    expect(keyStep("Home", false)).toBe("start");
    expect(keyStep("End", false)).toBe("end");
    expect(keyStep("a", false)).toBeNull();
  });
});
