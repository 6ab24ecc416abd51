import { describe, expect, it } from "vitest";
import { notificationFor, parsePayload, pickWindow, safeAppPath, toClose } from "./notify";

const ring = {
  type: "alert", title: null, body: null, image: "https://door.example/api/v1/events/e1/snapshot.jpg?exp=1&sig=x",
  event_id: "e1", camera: "front", camera_name: "Front door", kind: "ring", at_ms: 1_796_000_000_000,
  url: "/events/e1", tag: "ring-front",
};

describe("notificationFor", () => {
  it("shows a ring with the snapshot, the camera's tag and the event's page", () => {
    const n = notificationFor(ring, 0);
    expect(n.title).toBe("Someone is at Front door");
    expect(n.options).toMatchObject({
      tag: "ring-front", image: ring.image, renotify: true, silent: false, timestamp: ring.at_ms,
      data: { url: "/events/e1", event_id: "e1", camera: "front", kind: "ring" },
    });
  });

  it("uses the server's words when it sends them", () => {
    const n = notificationFor({ ...ring, title: "Ding dong", body: "Front door, 14:05" }, 0);
    expect([n.title, n.options.body]).toEqual(["Ding dong", "Front door, 14:05"]);
  });

  it("shows motion and a saved clip quietly under the same tag", () => {
    const motion = notificationFor({ ...ring, kind: "motion_start", tag: "motion-front" }, 0);
    expect(motion.title).toBe("Motion at Front door");
    expect(motion.options.renotify).toBe(false);
    const clip = notificationFor({ ...ring, type: "clip_ready" }, 0);
    expect(clip.title).toBe("Clip saved: Front door");
    expect(clip.options).toMatchObject({ tag: "ring-front", silent: true, renotify: false });
  });

  it("puts a saved clip (sent without a tag) in its alert's place", () => {
    const clip = notificationFor({ ...ring, type: "clip_ready", title: null, body: null, tag: null }, 0);
    expect(clip.options.tag).toBe("ring-front");
    const motionClip = notificationFor({ ...ring, type: "clip_ready", kind: "motion_start", tag: null }, 0);
    expect(motionClip.options.tag).toBe("motion-front");
  });

  it("still shows something for an empty or broken push (iOS revokes silent ones)", () => {
    const n = notificationFor(parsePayload("not json"), 42);
    expect(n.title).toBe("Doorbell");
    expect(n.options.body).toBe("not json");
    expect(n.options.data.url).toBe("/events");
    expect(n.options.timestamp).toBe(42);
    expect(notificationFor(parsePayload(null), 0).options.tag).toBe("doorbell");
    expect(notificationFor(parsePayload("[1,2]"), 0).title).toBe("Doorbell");
  });

  it("never opens another origin and drops odd image URLs", () => {
    const n = notificationFor({ ...ring, url: "https://evil.example/x", image: "javascript:alert(1)" }, 0);
    expect(n.options.data.url).toBe("/events/e1");
    expect(n.options.image).toBeUndefined();
    expect(safeAppPath("//evil.example")).toBe("/events");
    expect(safeAppPath("/cameras/front")).toBe("/cameras/front");
  });
});

describe("toClose", () => {
  it("closes the older notifications with the same tag only", () => {
    const shown = [{ tag: "ring-front", id: 1 }, { tag: "ring-back", id: 2 }, { tag: "ring-front", id: 3 }];
    expect(toClose(shown, notificationFor(ring, 0)).map((n) => n.id)).toEqual([1, 3]);
    expect(toClose(shown, notificationFor({ ...ring, tag: "motion-front" }, 0))).toEqual([]);
  });
});

describe("pickWindow", () => {
  const origin = "https://door.example";
  it("prefers a focused app window, then a visible one, and ignores other origins", () => {
    const a = { url: `${origin}/events`, focused: false, visibilityState: "hidden" };
    const b = { url: `${origin}/`, focused: false, visibilityState: "visible" };
    const c = { url: `${origin}/settings`, focused: true, visibilityState: "visible" };
    const other = { url: "https://elsewhere.example/", focused: true, visibilityState: "visible" };
    expect(pickWindow([a, b, c, other], origin)).toBe(c);
    expect(pickWindow([a, b, other], origin)).toBe(b);
    expect(pickWindow([a], origin)).toBe(a);
    expect(pickWindow([other], origin)).toBeNull();
  });
});
