/**
 * The rewind scrubber's arithmetic: wall time (UTC ms) <-> position on the bar, the gaps where
 * the camera was down, and wall time <-> the player's media time through the playlist's
 * EXT-X-PROGRAM-DATE-TIME (gaps take no media time: the video continues after them).
 */

export interface Span {
  start_ms: number;
  end_ms: number;
}

/** A fragment of the playlist as the player laid it out: media start and length (s), wall start (ms). */
export interface Frag {
  start: number;
  duration: number;
  programDateTime: number | null;
}

export const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** 0..1 along the bar for a wall time. */
export function positionOf(wallMs: number, bar: Span): number {
  const len = bar.end_ms - bar.start_ms;
  if (len <= 0) return 1;
  return clamp((wallMs - bar.start_ms) / len, 0, 1);
}

/** The wall time at 0..1 along the bar (whole ms). */
export function wallAt(position: number, bar: Span): number {
  return Math.round(bar.start_ms + clamp(position, 0, 1) * (bar.end_ms - bar.start_ms));
}

/** The gap containing a wall time (start inclusive, end exclusive), if any. */
export function gapAt(wallMs: number, gaps: readonly Span[]): Span | null {
  return gaps.find((g) => wallMs >= g.start_ms && wallMs < g.end_ms) ?? null;
}

/**
 * Where playback can go for a wanted wall time: inside the bar, and out of any gap (to the
 * video after it; to the video before it when moving backwards or when nothing follows).
 */
export function playableTime(wallMs: number, bar: Span, gaps: readonly Span[], backwards = false): number {
  let t = clamp(wallMs, bar.start_ms, bar.end_ms);
  const gap = gapAt(t, gaps);
  if (gap) {
    const after = gap.end_ms < bar.end_ms;
    const before = gap.start_ms > bar.start_ms;
    t = (backwards && before) || !after ? Math.max(bar.start_ms, gap.start_ms - 1) : gap.end_ms;
  }
  return t;
}

/** Gaps clipped to the bar, as left/width fractions for drawing. */
export function gapBands(gaps: readonly Span[], bar: Span): { left: number; width: number }[] {
  return gaps
    .map((g) => ({ s: Math.max(g.start_ms, bar.start_ms), e: Math.min(g.end_ms, bar.end_ms) }))
    .filter((g) => g.e > g.s)
    .map((g) => ({ left: positionOf(g.s, bar), width: positionOf(g.e, bar) - positionOf(g.s, bar) }));
}

/** Markers (events) inside the bar with their position. */
export function markers<T extends { at_ms: number }>(items: readonly T[], bar: Span): { item: T; position: number }[] {
  return items
    .filter((i) => i.at_ms >= bar.start_ms && i.at_ms <= bar.end_ms)
    .map((item) => ({ item, position: positionOf(item.at_ms, bar) }));
}

/** The media time (s) showing a wall time; in a gap, the first frame after it; outside, the nearest end. */
export function wallToMedia(frags: readonly Frag[], wallMs: number): number | null {
  const dated = frags.filter((f): f is Frag & { programDateTime: number } => f.programDateTime !== null);
  const first = dated[0];
  const last = dated[dated.length - 1];
  if (!first || !last) return null;
  if (wallMs <= first.programDateTime) return first.start;
  for (const f of dated) {
    const end = f.programDateTime + f.duration * 1000;
    if (wallMs < f.programDateTime) return f.start; // in a gap before this fragment
    if (wallMs < end) return f.start + (wallMs - f.programDateTime) / 1000;
  }
  return Math.max(last.start, last.start + last.duration - 0.1);
}

/** The wall time (ms) of a media time, or null when the playlist carries no dates. */
export function mediaToWall(frags: readonly Frag[], mediaS: number): number | null {
  let best: (Frag & { programDateTime: number }) | null = null;
  for (const f of frags) {
    if (f.programDateTime === null) continue;
    if (mediaS >= f.start || best === null) best = f as Frag & { programDateTime: number };
    if (mediaS < f.start + f.duration) break;
  }
  if (!best) return null;
  const into = clamp(mediaS - best.start, 0, best.duration);
  return Math.round(best.programDateTime + into * 1000);
}

/** The jump a key makes on the scrubber (ms), "start"/"end", or null for keys it ignores. */
export function keyStep(key: string, shift: boolean): number | "start" | "end" | null {
  switch (key) {
    case "ArrowLeft":
    case "ArrowDown":
      return shift ? -60_000 : -5_000;
    case "ArrowRight":
    case "ArrowUp":
      return shift ? 60_000 : 5_000;
    case "PageDown":
      return -60_000;
    case "PageUp":
      return 60_000;
    case "Home":
      return "start";
    case "End":
      return "end";
    default:
      return null;
  }
}
