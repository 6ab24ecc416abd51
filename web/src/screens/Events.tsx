/**
 * The event timeline: grouped by local day, with snapshots, filters (camera; ring/motion),
 * endless scroll with the API's cursor, live updates, select-and-delete and clear-all.
 */
import type { JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { DoorbellEvent, EventKind } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Loading, PageHeader } from "../components/Page";
import { BellIcon, MotionIcon } from "../components/icons";
import { reduce, type ListFilter, type ListState } from "../lib/live-events";
import { clockTime, groupByDay, localTimeZone } from "../lib/time";
import { Link, navigate, useLocation } from "../router";
import { useApp, useNotices } from "../state/app";
import { kindLabel } from "./Cameras";

type KindFilter = "all" | "ring" | "motion";
const KINDS: Record<KindFilter, EventKind[]> = { all: ["ring", "motion_start"], ring: ["ring"], motion: ["motion_start"] };
const PAGE = 30;

export function Events(): JSX.Element {
  const { cameras, cameraName } = useApp();
  const { query } = useLocation();
  const camera = query.get("camera") ?? "";
  const kindParam = query.get("kind");
  const kind: KindFilter = kindParam === "ring" || kindParam === "motion" ? kindParam : "all";
  const filter: ListFilter = useMemo(() => ({ camera: camera || undefined, kinds: KINDS[kind] }), [camera, kind]);

  const [list, setList] = useState<ListState>({ events: [], stale: true });
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [selecting, setSelecting] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirmClear, setConfirmClear] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [announce, setAnnounce] = useState("");
  const sentinel = useRef<HTMLDivElement>(null);
  const generation = useRef(0);
  const tz = localTimeZone();

  const load = async (more: boolean): Promise<void> => {
    const gen = more ? generation.current : ++generation.current;
    setLoading(true);
    try {
      const page = await api.events({ camera: filter.camera, kinds: [...(filter.kinds ?? [])], cursor: more ? cursor : null, limit: PAGE });
      if (gen !== generation.current) return;
      setList((s) => ({
        events: more ? [...s.events, ...page.events.filter((e) => !s.events.some((x) => x.id === e.id))] : page.events,
        stale: false,
      }));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      if (gen === generation.current) {
        setError(e);
        setList((s) => ({ ...s, stale: false }));
      }
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  // A new filter, or notices lost: read the list again from the top.
  useEffect(() => {
    setList((s) => ({ ...s, stale: true }));
    setSelected(new Set());
  }, [filter]);
  useEffect(() => {
    if (list.stale) void load(false);
  }, [list.stale]);

  useNotices((n) => {
    setList((s) => reduce(s, n, filter));
    if (n.type === "event") setAnnounce(`New ${kindLabel(n.event.kind).toLowerCase()} at ${cameraName(n.event.camera)}`);
    if (n.type === "events_deleted") setSelected((sel) => new Set([...sel].filter((id) => !n.ids.includes(id))));
    if (n.type === "events_cleared") setCursor(null);
  });

  // Endless scroll: the next page when the end of the list comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !cursor) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !loading) void load(true);
    });
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, loading]);

  const setFilter = (next: { camera?: string; kind?: KindFilter }): void => {
    const q = new URLSearchParams();
    const c = next.camera ?? camera;
    const k = next.kind ?? kind;
    if (c) q.set("camera", c);
    if (k !== "all") q.set("kind", k);
    const qs = q.toString();
    navigate(`/events${qs ? `?${qs}` : ""}`, { replace: true });
  };

  const deleteSelected = async (): Promise<void> => {
    setConfirmDelete(false);
    const ids = [...selected];
    try {
      const result = await api.deleteEvents(ids);
      setList((s) => reduce(s, { type: "events_deleted", ids: result.deleted }));
      setSelected(new Set());
      setSelecting(false);
      setAnnounce(`${result.deleted.length} ${result.deleted.length === 1 ? "event" : "events"} deleted`);
    } catch (e) {
      setError(e);
    }
  };

  const clearAll = async (): Promise<void> => {
    setConfirmClear(false);
    try {
      const result = await api.clearEvents();
      setList({ events: [], stale: false });
      setCursor(null);
      setSelecting(false);
      setAnnounce(`All events deleted (${result.deleted})`);
    } catch (e) {
      setError(e);
    }
  };

  const groups = groupByDay(list.events, tz, Date.now());
  const toggle = (id: string): void =>
    setSelected((sel) => {
      const next = new Set(sel);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <main id="main" class="events">
      <PageHeader title="Events">
        {selecting ? (
          <>
            <button type="button" class="btn danger" disabled={selected.size === 0} onClick={() => setConfirmDelete(true)}>
              Delete {selected.size > 0 ? `(${selected.size})` : ""}
            </button>
            <button type="button" class="btn" onClick={() => (setSelecting(false), setSelected(new Set()))}>
              Done
            </button>
          </>
        ) : (
          <>
            <button type="button" class="btn" disabled={list.events.length === 0} onClick={() => setSelecting(true)}>
              Select
            </button>
            <button type="button" class="btn ghost" disabled={list.events.length === 0} onClick={() => setConfirmClear(true)}>
              Clear all
            </button>
          </>
        )}
      </PageHeader>

      <div class="filters" role="group" aria-label="Filter events">
        <label class="field inline">
          <span>Camera</span>
          <select value={camera} onChange={(e) => setFilter({ camera: (e.target as HTMLSelectElement).value })}>
            <option value="">All cameras</option>
            {cameras?.map((c) => (
              <option value={c.id} key={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <div class="segmented" role="radiogroup" aria-label="Kind">
          {(["all", "ring", "motion"] as const).map((k) => (
            <button type="button" role="radio" aria-checked={kind === k} class={kind === k ? "selected" : ""} onClick={() => setFilter({ kind: k })}>
              {k === "all" ? "All" : k === "ring" ? "Rings" : "Motion"}
            </button>
          ))}
        </div>
      </div>

      <p class="visually-hidden" role="status" aria-live="polite">
        {announce}
      </p>
      {error !== null && (
        <p class="notice error" role="alert">
          {describeError(error)}
        </p>
      )}
      {list.stale && list.events.length === 0 && <Loading />}
      {!list.stale && list.events.length === 0 && error === null && (
        <p class="empty">{camera || kind !== "all" ? "No events match these filters." : "No events yet. Rings and motion will show up here."}</p>
      )}

      {groups.map((g) => (
        <section class="day" key={g.key} aria-labelledby={`day-${g.key}`}>
          <h2 id={`day-${g.key}`} class="day__title">
            {g.label}
          </h2>
          <ul class="event-list" role="list">
            {g.items.map((e) => (
              <EventRow
                key={e.id}
                event={e}
                cameraName={cameraName(e.camera)}
                selecting={selecting}
                selected={selected.has(e.id)}
                onToggle={() => toggle(e.id)}
              />
            ))}
          </ul>
        </section>
      ))}

      <div ref={sentinel} class="sentinel" />
      {cursor && (
        <div class="row center">
          <button type="button" class="btn" disabled={loading} onClick={() => void load(true)}>
            {loading ? "Loading…" : "Show older events"}
          </button>
        </div>
      )}

      <ConfirmDialog
        open={confirmClear}
        title="Delete every event?"
        message="All events, their snapshots and saved clips are deleted for good, for every camera."
        confirm="Delete all"
        danger
        onConfirm={() => void clearAll()}
        onCancel={() => setConfirmClear(false)}
      />
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${selected.size} ${selected.size === 1 ? "event" : "events"}?`}
        message="Their snapshots and saved clips are deleted too."
        confirm="Delete"
        danger
        onConfirm={() => void deleteSelected()}
        onCancel={() => setConfirmDelete(false)}
      />
    </main>
  );
}

function EventRow(props: {
  event: DoorbellEvent;
  cameraName: string;
  selecting: boolean;
  selected: boolean;
  onToggle: () => void;
}): JSX.Element {
  const { event: e } = props;
  const tz = localTimeZone();
  const ring = e.kind === "ring";
  const label = `${kindLabel(e.kind)} at ${props.cameraName}, ${clockTime(e.at_ms, tz)}`;
  const body = (
    <>
      <span class="event-row__thumb">
        {e.snapshot.url && e.snapshot.state === "ready" ? (
          <img src={e.snapshot.url} alt="" loading="lazy" width={160} height={90} />
        ) : (
          <span class="thumb-placeholder" aria-hidden="true">
            {ring ? <BellIcon /> : <MotionIcon />}
          </span>
        )}
      </span>
      <span class="event-row__text">
        <span class={`kind-tag ${ring ? "ring" : "motion"}`}>{kindLabel(e.kind)}</span>
        <span class="event-row__camera">{props.cameraName}</span>
        <span class="event-row__time">{clockTime(e.at_ms, tz, undefined, true)}</span>
      </span>
    </>
  );
  return (
    <li class={`event-row ${props.selected ? "selected" : ""}`}>
      {props.selecting ? (
        <label class="event-row__inner">
          <input type="checkbox" checked={props.selected} onChange={props.onToggle} aria-label={`Select: ${label}`} />
          {body}
        </label>
      ) : (
        <Link class="event-row__inner" href={`/events/${encodeURIComponent(e.id)}`}>
          {body}
        </Link>
      )}
    </li>
  );
}
