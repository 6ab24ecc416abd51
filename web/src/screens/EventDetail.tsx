/** One event: its snapshot, its saved clip, what was pushed to which device, and delete. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { EventDetail as Detail } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Loading, PageHeader } from "../components/Page";
import { dateTime, localTimeZone } from "../lib/time";
import { Link, navigate } from "../router";
import { useApp, useNotices } from "../state/app";
import { kindLabel } from "./Cameras";

const MEDIA_STATE: Record<string, string> = {
  pending: "Being saved…",
  failed: "None: the camera had no video then.",
  none: "None for this kind of event.",
  expired: "Removed by the retention policy.",
};

export function EventDetail({ id }: { id: string }): JSX.Element {
  const { cameraName, cameras } = useApp();
  const [event, setEvent] = useState<Detail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [gone, setGone] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [reload, setReload] = useState(0);
  const tz = localTimeZone();

  useEffect(() => {
    const c = new AbortController();
    api
      .event(id, c.signal)
      .then((e) => (setEvent(e), setError(null)))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) setGone(true);
        else if (!(e instanceof DOMException)) setError(e);
      });
    return () => c.abort();
  }, [id, reload]);

  useNotices((n) => {
    if (n.type === "event_updated" && n.event.id === id) setReload((r) => r + 1); // deliveries too
    if ((n.type === "events_deleted" && n.ids.includes(id)) || n.type === "events_cleared") setGone(true);
    if (n.type === "overflow") setReload((r) => r + 1);
  });

  const remove = async (): Promise<void> => {
    setConfirm(false);
    try {
      await api.deleteEvents([id]);
      navigate("/events", { replace: true });
    } catch (e) {
      setError(e);
    }
  };

  if (gone) {
    return (
      <main id="main">
        <PageHeader title="Event" back={{ href: "/events", label: "Events" }} />
        <p class="empty">This event was deleted.</p>
      </main>
    );
  }
  if (!event) {
    return (
      <main id="main">
        <PageHeader title="Event" back={{ href: "/events", label: "Events" }} />
        {error ? (
          <p class="notice error" role="alert">
            {describeError(error)}
          </p>
        ) : (
          <Loading />
        )}
      </main>
    );
  }

  const name = cameraName(event.camera);
  const camera = cameras?.find((c) => c.id === event.camera);
  const inBuffer = camera?.buffer.start_ms != null && event.at_ms - 5_000 >= camera.buffer.start_ms;
  return (
    <main id="main" class="event-detail">
      <PageHeader
        title={`${kindLabel(event.kind)} at ${name}`}
        back={{ href: "/events", label: "Events" }}
        sub={<time dateTime={new Date(event.at_ms).toISOString()}>{dateTime(event.at_ms, tz)}</time>}
      >
        <button type="button" class="btn danger" onClick={() => setConfirm(true)}>
          Delete
        </button>
      </PageHeader>
      {error !== null && (
        <p class="notice error" role="alert">
          {describeError(error)}
        </p>
      )}
      <div class="detail-grid">
        <section class="card" aria-labelledby="snap-title">
          <h2 id="snap-title">Snapshot</h2>
          {event.snapshot.url && event.snapshot.state === "ready" ? (
            <img class="media" src={event.snapshot.url} alt={`${name} at ${dateTime(event.at_ms, tz)}`} width={1280} height={720} />
          ) : (
            <p class="muted">{MEDIA_STATE[event.snapshot.state] ?? event.snapshot.state}</p>
          )}
        </section>
        <section class="card" aria-labelledby="clip-title">
          <h2 id="clip-title">Saved clip</h2>
          {event.clip.url && event.clip.state === "ready" ? (
            <video class="media" src={event.clip.url} controls playsInline preload="metadata" aria-label={`Clip of ${name}`} />
          ) : (
            <p class="muted">{MEDIA_STATE[event.clip.state] ?? event.clip.state}</p>
          )}
          <div class="row wrap">
            <Link class="btn" href={`/cameras/${encodeURIComponent(event.camera)}`}>
              Watch live
            </Link>
            {inBuffer && (
              <Link class="btn" href={`/cameras/${encodeURIComponent(event.camera)}/rewind?t=${event.at_ms - 5_000}`}>
                Rewind to this moment
              </Link>
            )}
          </div>
        </section>
      </div>
      <section class="card" aria-labelledby="deliveries-title">
        <h2 id="deliveries-title">Notifications sent</h2>
        {event.deliveries.length === 0 ? (
          <p class="muted">None were sent for this event.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Message</th>
                  <th scope="col">Try</th>
                  <th scope="col">Time</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {event.deliveries.map((d, i) => (
                  <tr key={i}>
                    <td>{d.device_name || d.device_id || "—"}</td>
                    <td>{d.message === "alert" ? "Alert" : "Clip ready"}</td>
                    <td>{d.attempt}</td>
                    <td>{dateTime(d.at_ms, tz)}</td>
                    <td>
                      <span class={`outcome ${d.outcome === "sent" ? "ok" : d.outcome === "logged" ? "" : "bad"}`}>{d.outcome}</span>
                      {d.error && <span class="muted"> {d.error}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <ConfirmDialog
        open={confirm}
        title="Delete this event?"
        message="Its snapshot and saved clip are deleted too."
        confirm="Delete"
        danger
        onConfirm={() => void remove()}
        onCancel={() => setConfirm(false)}
      />
    </main>
  );
}
