/** Rewind: play any moment of the buffer from the scrubber, step 10 s, mark a clip, back to live. */
import type { JSX } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, mediaUrls } from "../api/client";
import { describeError } from "../api/errors";
import type { Camera, DoorbellEvent } from "../api/types";
import { ClipPanel } from "../components/ClipPanel";
import { PageHeader } from "../components/Page";
import { Scrubber } from "../components/Scrubber";
import { VideoControls } from "../components/VideoControls";
import { LiveDot, PauseIcon, PlayIcon } from "../components/icons";
import { usePlayer } from "../live/usePlayer";
import { playableTime, type Span } from "../lib/scrubber";
import { ago, clockTime, localTimeZone } from "../lib/time";
import { Link, useLocation } from "../router";
import { useApp, useNotices } from "../state/app";

export function Rewind({ id }: { id: string }): JSX.Element {
  const { cameraName } = useApp();
  const { query } = useLocation();
  const [camera, setCamera] = useState<Camera | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [events, setEvents] = useState<DoorbellEvent[]>([]);
  const [now, setNow] = useState(Date.now());
  const [at, setAt] = useState<number | null>(null);
  const [paused, setPaused] = useState(false);
  const [marks, setMarks] = useState<{ startMs: number | null; endMs: number | null }>({ startMs: null, endMs: null });
  const tz = localTimeZone();

  const wanted = Number(query.get("t"));
  const start = Number.isFinite(wanted) && wanted > 0 ? wanted : Date.now() - 60_000;
  const { videoRef, player, status } = usePlayer(mediaUrls.rewind(id), "rewind", start);
  const [frame, setFrame] = useState<HTMLDivElement | null>(null);

  const loadCamera = useCallback(async () => {
    try {
      setCamera(await api.camera(id));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    void loadCamera();
    const t = setInterval(() => {
      if (document.visibilityState === "visible") void loadCamera();
    }, 5_000);
    return () => clearInterval(t);
  }, [loadCamera]);

  const bar: Span | null =
    camera?.buffer.start_ms != null && camera.buffer.end_ms != null
      ? { start_ms: camera.buffer.start_ms, end_ms: camera.buffer.end_ms }
      : null;

  useEffect(() => {
    if (!bar) return;
    const c = new AbortController();
    api
      .events({ camera: id, kinds: ["ring", "motion_start"], start: bar.start_ms, limit: 200 }, c.signal)
      .then((p) => setEvents(p.events))
      .catch(() => undefined);
    return () => c.abort();
  }, [id, bar === null]);

  useNotices((n) => {
    if (n.type === "event" && n.event.camera === id) setEvents((list) => [n.event, ...list.filter((e) => e.id !== n.event.id)]);
    if (n.type === "events_deleted") setEvents((list) => list.filter((e) => !n.ids.includes(e.id)));
    if (n.type === "events_cleared") setEvents([]);
  });

  // Follow the playhead.
  useEffect(() => {
    const video = videoRef.current;
    if (!video || !player) return;
    const update = (): void => {
      const w = player.wallTime();
      if (w !== null) setAt(w);
      setPaused(video.paused);
      setNow(Date.now());
    };
    const t = setInterval(update, 250);
    video.addEventListener("pause", update);
    video.addEventListener("play", update);
    return () => {
      clearInterval(t);
      video.removeEventListener("pause", update);
      video.removeEventListener("play", update);
    };
  }, [player]);

  const seek = (wallMs: number, backwards: boolean): void => {
    if (!bar || !player || !camera) return;
    const target = playableTime(wallMs, bar, camera.gaps, backwards);
    if (player.seekWall(target)) setAt(target);
  };

  const position = at ?? start;
  return (
    <main id="main" class="rewind">
      <PageHeader title={`${cameraName(id)}: rewind`} back={{ href: `/cameras/${encodeURIComponent(id)}`, label: "Live" }} />
      {error !== null && !camera && (
        <p class="notice error" role="alert">
          {describeError(error)}
        </p>
      )}
      <div class="live__layout">
        <div class="live__main">
          <div class="video-frame" ref={setFrame}>
            <video ref={videoRef} muted playsInline autoPlay aria-label={`Recording from ${cameraName(id)}`} />
            {at !== null && (
              <span class="time-badge">
                {clockTime(at, tz, undefined, true)} · {ago(at, now)}
              </span>
            )}
            {status !== "playing" && status !== "paused" && (
              <div class="video-overlay" role="status">
                <span class="spinner" aria-hidden="true" />
                <span>{status === "reconnecting" ? "Reconnecting…" : status === "failed" ? "The recording cannot be played." : "Loading…"}</span>
              </div>
            )}
          </div>
          {bar ? (
            <Scrubber bar={bar} gaps={camera?.gaps ?? []} events={events} value={position} marks={marks} onSeek={seek} />
          ) : (
            <p class="muted">{camera ? "Nothing is recorded yet." : "Loading the recording…"}</p>
          )}
          <div class="transport" role="group" aria-label="Playback">
            <button type="button" class="btn" onClick={() => seek(position - 10_000, true)} disabled={!bar}>
              −10 s
            </button>
            <button
              type="button"
              class="btn primary round"
              aria-label={paused ? "Play" : "Pause"}
              onClick={() => {
                const v = videoRef.current;
                if (!v) return;
                if (v.paused) void v.play();
                else v.pause();
              }}
            >
              {paused ? <PlayIcon /> : <PauseIcon />}
            </button>
            <button type="button" class="btn" onClick={() => seek(position + 10_000, false)} disabled={!bar}>
              +10 s
            </button>
            <Link class="btn live-btn" href={`/cameras/${encodeURIComponent(id)}`}>
              <LiveDot /> Live
            </Link>
          </div>
          <VideoControls video={videoRef.current} frame={frame} />
        </div>
        <aside class="live__side" aria-label="Clip">
          <section class="card" aria-labelledby="marks-title">
            <h2 id="marks-title">Mark a clip</h2>
            <p class="muted">Play to where the clip should start, mark it, then do the same for its end.</p>
            <div class="row wrap">
              <button type="button" class="btn" disabled={at === null} onClick={() => setMarks((m) => ({ ...m, startMs: at }))}>
                Mark start{marks.startMs !== null ? ` (${clockTime(marks.startMs, tz, undefined, true)})` : ""}
              </button>
              <button type="button" class="btn" disabled={at === null} onClick={() => setMarks((m) => ({ ...m, endMs: at }))}>
                Mark end{marks.endMs !== null ? ` (${clockTime(marks.endMs, tz, undefined, true)})` : ""}
              </button>
              {(marks.startMs !== null || marks.endMs !== null) && (
                <button type="button" class="btn ghost" onClick={() => setMarks({ startMs: null, endMs: null })}>
                  Clear marks
                </button>
              )}
            </div>
          </section>
          <ClipPanel camera={id} buffer={camera?.buffer ?? null} range={marks} />
        </aside>
      </div>
    </main>
  );
}
