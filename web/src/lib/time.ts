/** Times for people: UTC epoch ms from the server shown in a time zone (the browser's by default). */

export const localTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string, options: Intl.DateTimeFormatOptions, locale?: string): Intl.DateTimeFormat {
  const key = JSON.stringify([timeZone, options, locale ?? ""]);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { timeZone, ...options });
    formatters.set(key, f);
  }
  return f;
}

/** "2026-12-01": the calendar day of an instant in a time zone. */
export function dayKey(ms: number, timeZone: string): string {
  const parts = formatter(timeZone, { year: "numeric", month: "2-digit", day: "2-digit" }, "en-CA").formatToParts(ms);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** The day before a "YYYY-MM-DD" key (calendar arithmetic, no time zone involved). */
export function previousDayKey(key: string): string {
  const [y, m, d] = key.split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d - 1));
  return date.toISOString().slice(0, 10);
}

/** "Today", "Yesterday", or "Monday, 30 November" (with the year when it is not this year's). */
export function dayLabel(key: string, nowMs: number, timeZone: string, locale?: string): string {
  const today = dayKey(nowMs, timeZone);
  if (key === today) return "Today";
  if (key === previousDayKey(today)) return "Yesterday";
  const [y, m, d] = key.split("-").map(Number) as [number, number, number];
  const noonUtc = Date.UTC(y, m - 1, d, 12);
  const sameYear = key.slice(0, 4) === today.slice(0, 4);
  return formatter(
    "UTC",
    { weekday: "long", day: "numeric", month: "long", ...(sameYear ? {} : { year: "numeric" }) },
    locale,
  ).format(noonUtc);
}

export interface DayGroup<T> {
  key: string;
  label: string;
  items: T[];
}

/** Items (newest first) grouped by their local calendar day, keeping their order. */
export function groupByDay<T extends { at_ms: number }>(
  items: readonly T[],
  timeZone: string,
  nowMs: number,
  locale?: string,
): DayGroup<T>[] {
  const groups: DayGroup<T>[] = [];
  for (const item of items) {
    const key = dayKey(item.at_ms, timeZone);
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.items.push(item);
    else groups.push({ key, label: dayLabel(key, nowMs, timeZone, locale), items: [item] });
  }
  return groups;
}

/** The locale's hour style: "14:05" (two digits) on a 24-hour clock, "2:05 PM" on a 12-hour one. */
function hourStyle(locale?: string): "2-digit" | "numeric" {
  const cycle = new Intl.DateTimeFormat(locale, { hour: "numeric" }).resolvedOptions().hourCycle;
  return cycle === "h11" || cycle === "h12" ? "numeric" : "2-digit";
}

/** "14:05" (or "2:05 PM" where the locale says so). */
export function clockTime(ms: number, timeZone: string, locale?: string, seconds = false): string {
  return formatter(
    timeZone,
    { hour: hourStyle(locale), minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) },
    locale,
  ).format(ms);
}

/** "Mon 30 Nov, 14:05:09": a moment with its day, for labels and titles. */
export function dateTime(ms: number, timeZone: string, locale?: string): string {
  return formatter(
    timeZone,
    { weekday: "short", day: "numeric", month: "short", hour: hourStyle(locale), minute: "2-digit", second: "2-digit" },
    locale,
  ).format(ms);
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 45) return "just now";
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 24) return `${h} h ago`;
  const days = Math.round(h / 24);
  return days === 1 ? "1 day ago" : `${days} days ago`;
}

/** "1:05" or "1:02:05" for a length in seconds. */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}
