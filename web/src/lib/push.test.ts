import { describe, expect, it } from "vitest";
import { base64UrlToBytes, deviceName, pushSupport, quietHours } from "./push";

const all = { secure: true, serviceWorker: true, pushManager: true, notification: true, ios: false, standalone: false };

describe("pushSupport", () => {
  it("needs a secure page, and on iOS an app on the Home Screen", () => {
    expect(pushSupport(all)).toBe("ok");
    expect(pushSupport({ ...all, secure: false })).toBe("insecure");
    expect(pushSupport({ ...all, ios: true })).toBe("ios-home-screen");
    expect(pushSupport({ ...all, ios: true, standalone: true })).toBe("ok");
    expect(pushSupport({ ...all, pushManager: false })).toBe("unsupported");
  });
});

describe("base64UrlToBytes", () => {
  it("decodes unpadded base64url", () => {
    expect([...base64UrlToBytes("-_8")]).toEqual([0xfb, 0xff]);
    expect([...base64UrlToBytes("AQID")]).toEqual([1, 2, 3]);
  });
});

describe("deviceName and quiet hours", () => {
  it("names the browser and system", () => {
    expect(deviceName("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36")).toBe("Chrome on Android");
    expect(deviceName("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile/15E148 Safari/604.1")).toBe("Safari on iPhone");
  });
  it("sends quiet hours in this device's time zone", () => {
    expect(quietHours({ cameras: null, motion: true, quiet: { start: "22:00", end: "07:00" } }, "Europe/Berlin")).toEqual({
      start: "22:00", end: "07:00", timezone: "Europe/Berlin",
    });
    expect(quietHours({ cameras: null, motion: true, quiet: null }, "UTC")).toBeNull();
  });
});
