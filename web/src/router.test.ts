import { describe, expect, it } from "vitest";
import { match, safeNext } from "./router";

describe("match", () => {
  it("reads params and refuses other shapes", () => {
    expect(match("/cameras/:id", "/cameras/front")).toEqual({ id: "front" });
    expect(match("/cameras/:id/rewind", "/cameras/back%20yard/rewind")).toEqual({ id: "back yard" });
    expect(match("/cameras/:id", "/cameras/front/rewind")).toBeNull();
    expect(match("/events/:id", "/cameras/x")).toBeNull();
    expect(match("/events/:id", "/events/%E0%A4%A")).toBeNull();
  });
});

describe("safeNext", () => {
  it("returns only this app's own paths after signing in", () => {
    expect(safeNext("/events?kind=ring")).toBe("/events?kind=ring");
    expect(safeNext("//evil.example/")).toBe("/");
    expect(safeNext("https://evil.example/")).toBe("/");
    expect(safeNext("/sign-in?next=/x")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});
