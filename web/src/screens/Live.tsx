/** A camera live, playing at once with a small delay, with its controls, a clip and its latest events. */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, mediaUrls } from "../api/client";
import type { DoorbellEvent } from "../api/types";
import { ClipPanel } from "../components/ClipPanel";
import { PageHeader } from "../components/Page";
import { StreamInfo, transportLabel } from "../components/StreamInfo";
import { VideoControls } from "../components/VideoControls";
import { LiveDot, PlayIcon, RewindIcon } from "../components/icons";
import type { PlayerStats } from "../live/player";
import { usePlayer } from "../live/usePlayer";
import { reduce } from "../lib/live-events";
import { ago, clockTime, localTimeZone } from "../lib/time";
import { Link } from "../router";
import { useApp, useNotices } from "../state/app";
import { kindLabel } from "./Cameras";

export function Live({ id }: { id: string }): JSX.Element {
  const { cameras } = useApp();
  const camera = cameras?.find((c) => c.id === id) ?? null;
  const { videoRef, player, status, message } = usePlayer(mediaUrls.live(id), "live", null, undefined, id);
  const frameRef = useRef<HTMLDivElement>(null);
  const [stats, setStats] = useState<PlayerStats | null>(null);
  const [showInfo, setShowInfo] = useState(false);

  useEffect(() => {
    if (!player) return;
    setStats(player.stats());
    const t = setInterval(() => setStats(player.stats()), 1000);
    return () => clearInterval(t);
  }, [player]);
  // The badge shows HLS's delay (the playing frame's date against the clock); WebRTC's
  // measured part (jitter buffer + RTT/2) is not the whole delay: it is in the overlay only.
  const latency = stats?.transport === "hls" ? stats.delayS : null;

  const name = camera?.name ?? id;
  const showOverlay = status !== "playing";
  const overlayText =
    message ??
    (status === "reconnecting"
      ? "Reconnecting…"
      : status === "waiting"
        ? "Buffering…"
        : status === "paused"
          ? "Paused"
          : status === "failed"
            ? "The video cannot be played."
            : camera && !camera.online
              ? "The camera is offline. Waiting for it…"
              : "Connecting…");

  return (
    <main id="main" class="live">
      <PageHeader
        title={name}
        back={{ href: "/", label: "Cameras" }}
        sub={
          camera && (
            <span class="camera-card__state">
              <span class={`dot ${camera.online ? "online" : "offline"}`} aria-hidden="true" />
              {camera.online ? "Online" : "Offline"}
            </span>
          )
        }
      />
      <div class="live__layout">
        <div class="live__main">
          <div class="video-frame" ref={frameRef}>
            <video ref={videoRef} muted playsInline autoPlay aria-label={`Live video from ${name}`} />
            {status === "playing" && (
              <span class="live-badge">
                <LiveDot /> Live
                {stats && <span class="latency"> · {transportLabel(stats.transport)}</span>}
                {latency !== null && <span class="latency"> · {latency.toFixed(1)} s</span>}
              </span>
            )}
            <button
              type="button"
              class="info-toggle"
              aria-label="Video details"
              aria-expanded={showInfo}
              aria-controls="stream-info"
              onClick={() => setShowInfo((v) => !v)}
            >
              i
            </button>
            {showInfo && <StreamInfo stats={stats} />}
            {showOverlay && (
              <div class="video-overlay" role="status">
                {status === "paused" ? (
                  <button type="button" class="btn primary" onClick={() => player?.toLiveEdge()}>
                    <PlayIcon size={18} /> Play live
                  </button>
                ) : (
                  <>
                    {status !== "failed" && <span class="spinner" aria-hidden="true" />}
                    <span>{overlayText}</span>
                  </>
                )}
              </div>
            )}
          </div>
          <div class="row wrap between">
            <VideoControls video={videoRef.current} frame={frameRef.current} />
            <Link class="btn" href={`/cameras/${encodeURIComponent(id)}/rewind`}>
              <RewindIcon size={18} /> Rewind
            </Link>
          </div>
        </div>
        <aside class="live__side" aria-label="Clip and recent events">
          <ClipPanel camera={id} buffer={camera?.buffer ?? null} />
          <RecentEvents camera={id} />
        </aside>
      </div>
    </main>
  );
}

function RecentEvents({ camera }: { camera: string }): JSX.Element {
  const [state, setState] = useState<{ events: DoorbellEvent[]; stale: boolean }>({ events: [], stale: true });
  const filter = { camera, kinds: ["ring", "motion_start"] as const };
  const tz = localTimeZone();

  useEffect(() => {
    if (!state.stale) return;
    const c = new AbortController();
    api
      .events({ camera, kinds: [...filter.kinds], limit: 5 }, c.signal)
      .then((page) => setState({ events: page.events, stale: false }))
      .catch(() => undefined);
    return () => c.abort();
  }, [camera, state.stale]);

  useNotices((n) => setState((s) => ({ ...reduce(s, n, filter), events: reduce(s, n, filter).events.slice(0, 5) })));

  return (
    <section class="card" aria-labelledby="recent-title">
      <div class="row between">
        <h2 id="recent-title">Recent events</h2>
        <Link href={`/events?camera=${encodeURIComponent(camera)}`}>All events</Link>
      </div>
      {state.events.length === 0 ? (
        <p class="muted">{state.stale ? "Loading…" : "None yet."}</p>
      ) : (
        <ul class="compact-list" role="list">
          {state.events.map((e) => (
            <li key={e.id}>
              <Link href={`/events/${encodeURIComponent(e.id)}`}>
                <span class={`kind-tag ${e.kind === "ring" ? "ring" : "motion"}`}>{kindLabel(e.kind)}</span>
                <span>{clockTime(e.at_ms, tz)}</span>
                <span class="muted">{ago(e.at_ms, Date.now())}</span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
