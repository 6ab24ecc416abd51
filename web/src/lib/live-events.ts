/**
 * Live notices from `GET /api/v1/events/stream` applied to a list of events the screen shows
 * (newest first). Pure: the list screens and the event page reduce the same notices.
 */
import type { DoorbellEvent, EventKind } from "../api/types";

export type Notice =
  | { type: "event"; event: DoorbellEvent }
  | { type: "event_updated"; event: DoorbellEvent }
  | { type: "events_deleted"; ids: string[] }
  | { type: "events_cleared" }
  | { type: "overflow" };

export const NOTICE_TYPES = ["event", "event_updated", "events_deleted", "events_cleared", "overflow"] as const;

export interface ListState {
  events: DoorbellEvent[];
  /** Notices were lost (overflow, a reconnect): the list must be read again from the server. */
  stale: boolean;
}

export interface ListFilter {
  camera?: string | undefined;
  kinds?: readonly EventKind[] | undefined;
}

export function matches(event: DoorbellEvent, filter: ListFilter): boolean {
  if (filter.camera && event.camera !== filter.camera) return false;
  if (filter.kinds && filter.kinds.length > 0 && !filter.kinds.includes(event.kind)) return false;
  return true;
}

const newestFirst = (a: DoorbellEvent, b: DoorbellEvent): number => b.at_ms - a.at_ms || (a.id < b.id ? 1 : -1);

export function reduce(state: ListState, notice: Notice, filter: ListFilter = {}): ListState {
  switch (notice.type) {
    case "event": {
      if (!matches(notice.event, filter)) return state;
      const rest = state.events.filter((e) => e.id !== notice.event.id);
      return { ...state, events: [...rest, notice.event].sort(newestFirst) };
    }
    case "event_updated": {
      const i = state.events.findIndex((e) => e.id === notice.event.id);
      if (i < 0) return state; // not shown here (filtered out or not loaded yet)
      const events = state.events.slice();
      events[i] = notice.event;
      return { ...state, events };
    }
    case "events_deleted": {
      const gone = new Set(notice.ids);
      const events = state.events.filter((e) => !gone.has(e.id));
      return events.length === state.events.length ? state : { ...state, events };
    }
    case "events_cleared":
      return { events: [], stale: false };
    case "overflow":
      return { ...state, stale: true };
  }
}

/** A notice from one SSE message (its `event:` name and `data:`), or null when it is not one we know. */
export function parseNotice(type: string, data: string): Notice | null {
  let body: unknown;
  try {
    body = data ? JSON.parse(data) : {};
  } catch {
    return null;
  }
  const obj = (body ?? {}) as Record<string, unknown>;
  switch (type) {
    case "event":
    case "event_updated":
      return typeof obj.id === "string" && typeof obj.at_ms === "number"
        ? { type, event: obj as unknown as DoorbellEvent }
        : null;
    case "events_deleted":
      return Array.isArray(obj.ids) ? { type, ids: obj.ids.filter((x): x is string => typeof x === "string") } : null;
    case "events_cleared":
    case "overflow":
      return { type };
    default:
      return null;
  }
}
