/**
 * The rewind scrubber: a real slider (role, keyboard, aria-valuetext with the local time) over
 * the whole buffer, with the gaps drawn and events marked, dragged by touch or mouse.
 */
import type { JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import type { DoorbellEvent } from "../api/types";
import { gapBands, keyStep, markers, positionOf, wallAt, type Span } from "../lib/scrubber";
import { clockTime, localTimeZone } from "../lib/time";

export function Scrubber(props: {
  bar: Span;
  gaps: readonly Span[];
  events: readonly DoorbellEvent[];
  value: number;
  marks: { startMs: number | null; endMs: number | null };
  onSeek: (wallMs: number, backwards: boolean) => void;
}): JSX.Element {
  const { bar, value } = props;
  const tz = localTimeZone();
  const track = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<number | null>(null);
  const shown = drag ?? value;

  const wallFromPointer = (clientX: number): number => {
    const rect = track.current?.getBoundingClientRect();
    if (!rect || rect.width === 0) return value;
    return wallAt((clientX - rect.left) / rect.width, bar);
  };

  const onKey = (e: KeyboardEvent): void => {
    const step = keyStep(e.key, e.shiftKey);
    if (step === null) return;
    e.preventDefault();
    if (step === "start") props.onSeek(bar.start_ms, true);
    else if (step === "end") props.onSeek(bar.end_ms, false);
    else props.onSeek(value + step, step < 0);
  };

  const pct = (p: number): string => `${(p * 100).toFixed(3)}%`;
  const setLeft = (el: HTMLElement | null, p: number, width?: number): void => {
    // Positions are set from script (the CSP allows no inline style attributes).
    if (!el) return;
    el.style.left = pct(p);
    if (width !== undefined) el.style.width = pct(width);
  };

  const { startMs, endMs } = props.marks;
  const markBand =
    startMs !== null && endMs !== null && endMs > startMs
      ? { left: positionOf(startMs, bar), width: positionOf(endMs, bar) - positionOf(startMs, bar) }
      : null;

  return (
    <div class="scrubber">
      <div
        class="scrubber__track"
        ref={track}
        role="slider"
        tabIndex={0}
        aria-label="Time in the recording"
        aria-valuemin={bar.start_ms}
        aria-valuemax={bar.end_ms}
        aria-valuenow={Math.round(shown)}
        aria-valuetext={clockTime(shown, tz, undefined, true)}
        onKeyDown={onKey}
        onPointerDown={(e) => {
          (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
          setDrag(wallFromPointer(e.clientX));
        }}
        onPointerMove={(e) => {
          if (drag !== null) setDrag(wallFromPointer(e.clientX));
        }}
        onPointerUp={(e) => {
          if (drag === null) return;
          const to = wallFromPointer(e.clientX);
          setDrag(null);
          props.onSeek(to, to < value);
        }}
        onPointerCancel={() => setDrag(null)}
      >
        <div class="scrubber__rail" />
        {gapBands(props.gaps, bar).map((g, i) => (
          <div key={`g${i}`} class="scrubber__gap" ref={(el) => setLeft(el, g.left, g.width)} />
        ))}
        {markBand && <div class="scrubber__mark" ref={(el) => setLeft(el, markBand.left, markBand.width)} />}
        {markers(props.events, bar).map(({ item, position }) => (
          <div
            key={item.id}
            class={`scrubber__event ${item.kind === "ring" ? "ring" : "motion"}`}
            ref={(el) => setLeft(el, position)}
          />
        ))}
        <div class="scrubber__played" ref={(el) => {
            if (el) el.style.width = pct(positionOf(shown, bar));
          }} />
        <div class="scrubber__thumb" ref={(el) => setLeft(el, positionOf(shown, bar))} />
      </div>
      <div class="scrubber__ends" aria-hidden="true">
        <span>{clockTime(bar.start_ms, tz)}</span>
        <span>{drag !== null ? clockTime(drag, tz, undefined, true) : ""}</span>
        <span>{clockTime(bar.end_ms, tz)}</span>
      </div>
      <ul class="scrubber__legend" aria-label="Legend">
        <li>
          <span class="swatch ring" aria-hidden="true" /> Ring
        </li>
        <li>
          <span class="swatch motion" aria-hidden="true" /> Motion
        </li>
        <li>
          <span class="swatch gap" aria-hidden="true" /> No video
        </li>
      </ul>
    </div>
  );
}
