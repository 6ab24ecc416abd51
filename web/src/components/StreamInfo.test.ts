import { describe, expect, it } from "vitest";
import { statRows } from "./StreamInfo";

describe("statRows", () => {
  it("shows WebRTC's measured delay and link figures, with dashes for what is not known yet", () => {
    const rows = statRows({
      transport: "webrtc",
      delayS: 0.0524,
      webrtc: { delayS: 0.0524, jitterBufferS: 0.05, rttS: 0.0048, fps: 24.6, width: 640, height: 480, packetsLost: 2, framesDecoded: 90 },
    });
    expect(Object.fromEntries(rows)).toEqual({
      Transport: "WebRTC",
      "Delay (jitter buffer + RTT/2)": "52 ms",
      "Jitter buffer": "50 ms",
      "Round trip": "5 ms",
      "Frames per second": "25",
      Resolution: "640×480",
      "Packets lost": "2",
    });
    expect(Object.fromEntries(statRows({ transport: "webrtc", delayS: null, webrtc: null }))["Resolution"]).toBe("–");
  });

  it("shows HLS's delay and its distance to the live edge", () => {
    expect(statRows({ transport: "hls", delayS: 1.64, liveEdgeS: 1.2 })).toEqual([
      ["Transport", "HLS"],
      ["Delay (frame date)", "1.6 s"],
      ["Behind live edge", "1.2 s"],
    ]);
  });
});
