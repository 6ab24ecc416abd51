/** Every camera as a card: its name (opens live view), online state and since when, the latest frame, the last event. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { mediaUrls } from "../api/client";
import { describeError } from "../api/errors";
import type { Camera } from "../api/types";
import { PageHeader, Loading } from "../components/Page";
import { ListIcon, RewindIcon } from "../components/icons";
import { preloadPlayer } from "../live/player";
import { ago, clockTime, localTimeZone } from "../lib/time";
import { Link } from "../router";
import { useApp } from "../state/app";

export const kindLabel = (kind: string): string => (kind === "ring" ? "Ring" : kind === "motion_end" ? "Motion ended" : "Motion");

export function Cameras(): JSX.Element {
  const { cameras, camerasError } = useApp();
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 15_000);
    // Fetch the player ahead of the tap that opens live view.
    const idle = window.requestIdleCallback ?? ((fn: () => void) => setTimeout(fn, 500));
    idle(() => preloadPlayer());
    return () => clearInterval(t);
  }, []);

  return (
    <main id="main">
      <PageHeader title="Cameras" />
      {cameras === null && !camerasError && <Loading />}
      {camerasError !== null && cameras === null && (
        <p class="notice error" role="alert">
          {describeError(camerasError)}
        </p>
      )}
      {cameras?.length === 0 && <p class="empty">No cameras are configured on this server yet.</p>}
      <ul class="camera-grid" role="list">
        {cameras?.map((c) => (
          <li key={c.id}>
            <CameraCard camera={c} now={now} />
          </li>
        ))}
      </ul>
    </main>
  );
}

function CameraCard({ camera, now }: { camera: Camera; now: number }): JSX.Element {
  const tz = localTimeZone();
  const live = `/cameras/${encodeURIComponent(camera.id)}`;
  const since = camera.since_ms;
  const last = camera.last_event;
  return (
    <article class="camera-card card" aria-labelledby={`cam-${camera.id}`}>
      <Link href={live} class="camera-card__frame" tabIndex={-1} aria-hidden="true">
        <Snapshot camera={camera} />
        <span class={`badge ${camera.online ? "online" : "offline"}`}>{camera.online ? "Live" : "Offline"}</span>
      </Link>
      <div class="camera-card__body">
        <h2 id={`cam-${camera.id}`} class="camera-card__name">
          <Link href={live}>{camera.name}</Link>
        </h2>
        <p class="camera-card__state">
          <span class={`dot ${camera.online ? "online" : "offline"}`} aria-hidden="true" />
          {camera.online ? "Online" : "Offline"}
          {since != null && (
            <span class="muted">
              {" "}
              since {clockTime(since, tz)} ({ago(since, now)})
            </span>
          )}
        </p>
        <p class="camera-card__last">
          {last ? (
            <Link href={`/events/${encodeURIComponent(last.id)}`}>
              Last: {kindLabel(last.kind)} · {ago(last.at_ms, now)}
            </Link>
          ) : (
            <span class="muted">No events yet</span>
          )}
        </p>
        <div class="camera-card__actions">
          <Link class="btn small" href={`${live}/rewind`}>
            <RewindIcon size={16} /> Rewind
          </Link>
          <Link class="btn small" href={`/events?camera=${encodeURIComponent(camera.id)}`}>
            <ListIcon size={16} /> Events
          </Link>
        </div>
      </div>
    </article>
  );
}

/** The newest frame, refreshed every few seconds while the page is visible, without flicker. */
function Snapshot({ camera }: { camera: Camera }): JSX.Element {
  const base = mediaUrls.snapshot(camera.id);
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    let stopped = false;
    const load = (): void => {
      if (document.visibilityState !== "visible") return;
      const next = `${base}?t=${Date.now()}`;
      const img = new Image();
      img.onload = () => {
        if (stopped) return;
        setSrc(next);
        setFailed(false);
      };
      img.onerror = () => !stopped && setFailed(true);
      img.src = next;
    };
    load();
    const t = setInterval(load, camera.online ? 5_000 : 30_000);
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, [base, camera.online]);

  if (src === null) {
    return <div class="frame-placeholder">{failed ? "No picture yet" : ""}</div>;
  }
  return <img src={src} alt={`Latest picture from ${camera.name}`} width={640} height={360} />;
}
