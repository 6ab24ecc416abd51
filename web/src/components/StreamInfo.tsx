/** The live view's debug overlay: which transport plays and its measured delay (off until asked for). */
import type { JSX } from "preact";
import type { PlayerStats } from "../live/player";

const seconds = (s: number | null | undefined, digits = 2): string => (s == null ? "–" : `${s.toFixed(digits)} s`);
const ms = (s: number | null | undefined): string => (s == null ? "–" : `${Math.round(s * 1000)} ms`);

export const transportLabel = (t: PlayerStats["transport"]): string => (t === "webrtc" ? "WebRTC" : "HLS");

/** Rows of name and value for the overlay (exported for its test). */
export function statRows(stats: PlayerStats): [string, string][] {
  const rows: [string, string][] = [["Transport", transportLabel(stats.transport)]];
  if (stats.transport === "hls") {
    rows.push(["Delay (frame date)", seconds(stats.delayS, 1)], ["Behind live edge", seconds(stats.liveEdgeS, 1)]);
    return rows;
  }
  const w = stats.webrtc ?? null;
  rows.push(
    ["Delay (jitter buffer + RTT/2)", ms(stats.delayS)],
    ["Jitter buffer", ms(w?.jitterBufferS)],
    ["Round trip", ms(w?.rttS)],
    ["Frames per second", w?.fps == null ? "–" : w.fps.toFixed(0)],
    ["Resolution", w?.width == null || w.height == null ? "–" : `${w.width}×${w.height}`],
    ["Packets lost", w?.packetsLost == null ? "–" : String(w.packetsLost)],
  );
  return rows;
}

export function StreamInfo({ stats }: { stats: PlayerStats | null }): JSX.Element {
  return (
    <div class="stream-info" id="stream-info" role="region" aria-label="Video details">
      {stats === null ? (
        <p>Starting…</p>
      ) : (
        <dl>
          {statRows(stats).map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}
