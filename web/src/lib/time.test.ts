import { describe, expect, it } from "vitest";
import { ago, clockTime, dayKey, dayLabel, duration, groupByDay, previousDayKey } from "./time";

// 2026-12-01T23:30:00Z: still 1 December in New York, already 2 December in Berlin.
const LATE = Date.UTC(2026, 11, 1, 23, 30);

describe("dayKey", () => {
  it("is the calendar day in the given time zone", () => {
    expect(dayKey(LATE, "UTC")).toBe("2026-12-01");
    expect(dayKey(LATE, "Europe/Berlin")).toBe("2026-12-02");
    expect(dayKey(LATE, "America/New_York")).toBe("2026-12-01");
  });
  it("follows daylight saving changes", () => {
    // 2026-03-29 01:30Z is 03:30 CEST in Berlin (clocks went forward at 01:00Z).
    expect(dayKey(Date.UTC(2026, 2, 28, 23, 30), "Europe/Berlin")).toBe("2026-03-29");
    expect(dayKey(Date.UTC(2026, 2, 28, 22, 30), "Europe/Berlin")).toBe("2026-03-28");
  });
});

describe("previousDayKey", () => {
  it("crosses months and years", () => {
    expect(previousDayKey("2026-03-01")).toBe("2026-02-28");
    expect(previousDayKey("2027-01-01")).toBe("2026-12-31");
  });
});

describe("groupByDay", () => {
  const at = (iso: string) => ({ at_ms: Date.parse(iso) });
  const now = Date.parse("2026-12-02T10:00:00Z");

  it("groups newest-first items by local day with Today/Yesterday labels", () => {
    const items = [
      at("2026-12-02T09:00:00Z"),
      at("2026-12-01T23:30:00Z"),
      at("2026-12-01T22:00:00Z"),
      at("2026-11-29T12:00:00Z"),
    ];
    const berlin = groupByDay(items, "Europe/Berlin", now, "en-GB");
    expect(berlin.map((g) => [g.label, g.items.length])).toEqual([
      ["Today", 2],
      ["Yesterday", 1],
      [expect.stringMatching(/^Sunday,? 29 November$/), 1],
    ]);
    const ny = groupByDay(items, "America/New_York", now, "en-GB");
    expect(ny.map((g) => [g.key, g.items.length])).toEqual([
      ["2026-12-02", 1],
      ["2026-12-01", 2],
      ["2026-11-29", 1],
    ]);
    expect(ny[0]?.label).toBe("Today");
  });

  it("names the year for another year's day", () => {
    expect(dayLabel("2025-06-01", now, "UTC", "en-GB")).toMatch(/^Sunday,? 1 June 2025$/);
  });
});

describe("formatting", () => {
  it("shows clock time in the time zone", () => {
    expect(clockTime(LATE, "Europe/Berlin", "en-GB")).toBe("00:30");
    expect(clockTime(LATE, "UTC", "en-GB", true)).toBe("23:30:00");
    expect(clockTime(LATE, "America/New_York", "en-US")).toMatch(/^6:30\sPM$/);
  });
  it("says how long ago", () => {
    expect(ago(0, 10_000)).toBe("just now");
    expect(ago(0, 5 * 60_000)).toBe("5 min ago");
    expect(ago(0, 3 * 3_600_000)).toBe("3 h ago");
    expect(ago(0, 49 * 3_600_000)).toBe("2 days ago");
  });
  it("writes lengths", () => {
    expect(duration(65)).toBe("1:05");
    expect(duration(3725)).toBe("1:02:05");
  });
});
