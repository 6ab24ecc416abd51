import { describe, expect, it } from "vitest";
import type { DoorbellEvent } from "../api/types";
import { parseNotice, reduce, type ListState } from "./live-events";

function ev(id: string, at_ms: number, over: Partial<DoorbellEvent> = {}): DoorbellEvent {
  return {
    id, at_ms, camera: "front", kind: "ring", received_ms: at_ms, agent_at_ms: at_ms, clock_offset_ms: 0,
    score: null, box: null, ended_at_ms: null,
    snapshot: { state: "pending", url: null, signed_url: null, at_ms: null },
    clip: { state: "pending", url: null, signed_url: null, start_ms: null, end_ms: null, bytes: null },
    ...over,
  };
}

const list = (...events: DoorbellEvent[]): ListState => ({ events, stale: false });

describe("reduce", () => {
  it("puts a new event in time order, once", () => {
    let s = list(ev("c", 30), ev("a", 10));
    s = reduce(s, { type: "event", event: ev("b", 20) });
    expect(s.events.map((e) => e.id)).toEqual(["c", "b", "a"]);
    s = reduce(s, { type: "event", event: ev("b", 20) });
    expect(s.events.map((e) => e.id)).toEqual(["c", "b", "a"]);
    s = reduce(s, { type: "event", event: ev("d", 40) });
    expect(s.events[0]?.id).toBe("d");
  });

  it("leaves out a new event the filter does not show", () => {
    const s = list(ev("a", 10));
    expect(reduce(s, { type: "event", event: ev("m", 20, { kind: "motion_start" }) }, { kinds: ["ring"] })).toBe(s);
    expect(reduce(s, { type: "event", event: ev("x", 20, { camera: "back" }) }, { camera: "front" })).toBe(s);
    expect(reduce(s, { type: "event", event: ev("y", 20) }, { camera: "front", kinds: ["ring"] }).events).toHaveLength(2);
  });

  it("replaces an updated event in place and ignores one it does not show", () => {
    const ready = ev("a", 10, { snapshot: { state: "ready", url: "/s.jpg", signed_url: null, at_ms: 10 } });
    const s = reduce(list(ev("b", 20), ev("a", 10)), { type: "event_updated", event: ready });
    expect(s.events[1]?.snapshot.state).toBe("ready");
    expect(s.events.map((e) => e.id)).toEqual(["b", "a"]);
    const t = list(ev("b", 20));
    expect(reduce(t, { type: "event_updated", event: ready })).toBe(t);
  });

  it("removes deleted events and empties on clear", () => {
    const s = reduce(list(ev("c", 30), ev("b", 20), ev("a", 10)), { type: "events_deleted", ids: ["a", "c", "zz"] });
    expect(s.events.map((e) => e.id)).toEqual(["b"]);
    expect(reduce(s, { type: "events_cleared" }).events).toEqual([]);
  });

  it("marks the list stale on overflow, keeping what it shows", () => {
    const s = reduce(list(ev("a", 10)), { type: "overflow" });
    expect(s.stale).toBe(true);
    expect(s.events).toHaveLength(1);
  });
});

describe("parseNotice", () => {
  it("reads the server's messages", () => {
    expect(parseNotice("event", JSON.stringify(ev("a", 1)))).toMatchObject({ type: "event", event: { id: "a" } });
    expect(parseNotice("events_deleted", '{"ids":["a","b"]}')).toEqual({ type: "events_deleted", ids: ["a", "b"] });
    expect(parseNotice("events_cleared", '{"count":3}')).toEqual({ type: "events_cleared" });
    expect(parseNotice("overflow", '{"detail":"notices were dropped"}')).toEqual({ type: "overflow" });
  });
  it("refuses what it cannot use", () => {
    expect(parseNotice("event", "{not json")).toBeNull();
    expect(parseNotice("event", '{"id": 3}')).toBeNull();
    expect(parseNotice("something_else", "{}")).toBeNull();
  });
});
