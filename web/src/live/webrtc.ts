/**
 * A WHEP client: one receive-only RTCPeerConnection per live view, its offer sent once (no
 * trickle: at the first ICE candidate, or when gathering ends, at most ~1 s) through the API client, the answer set, the
 * session ended with a DELETE (keepalive on pagehide). Tuned for the smallest delay; the
 * measured delay read from getStats. Whether to use it at all is lib/transport.ts's decision.
 */
import type { WebRtcInfo } from "../api/types";
import type { WhepAnswer } from "../api/client";

/** What the WHEP client needs from the API client (ApiClient has it; tests pass a fake). */
export interface WhepApi {
  webrtc(signal?: AbortSignal): Promise<WebRtcInfo>;
  whepOffer(camera: string, offer: string, signal?: AbortSignal): Promise<WhepAnswer>;
  whepEnd(location: string, keepalive?: boolean): Promise<void>;
}

export type PeerFactory = (config: RTCConfiguration) => RTCPeerConnection;

/** The browser's RTCPeerConnection, or null where there is none (old browsers, some WebViews). */
export function browserPeerFactory(): PeerFactory | null {
  const Ctor = (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;
  return typeof Ctor === "function" ? (config) => new Ctor(config) : null;
}

export const ICE_GATHERING_MAX_MS = 1_000;

let info: Promise<WebRtcInfo> | null = null;

/** GET /api/v1/webrtc, once per page (a failure is not kept: the next view asks again). */
export function webrtcInfo(api: WhepApi): Promise<WebRtcInfo> {
  info ??= api.webrtc().catch((error: unknown) => {
    info = null;
    throw error;
  });
  return info;
}

/** Forgets the cached answer (tests; a sign-out). */
export function resetWebrtcInfo(): void {
  info = null;
}

/**
 * Resolves at the browser's first ICE candidate, when gathering completes, or after `maxMs`,
 * whichever is first. The server is the side that must be reachable (the browser's host
 * candidates are mDNS names it cannot use): it learns the browser's address from its checks,
 * so the offer need not wait for the rest of gathering (~130 ms in Chromium). One candidate
 * shows the browser can reach out at all; none at the end means it cannot (UDP blocked).
 */
export function iceGathered(pc: RTCPeerConnection, maxMs = ICE_GATHERING_MAX_MS): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", onChange);
      pc.removeEventListener("icecandidate", onCandidate);
      resolve();
    };
    const onChange = (): void => {
      if (pc.iceGatheringState === "complete") done();
    };
    const onCandidate = (e: Event): void => {
      const candidate = (e as RTCPeerConnectionIceEvent).candidate;
      if (candidate && candidate.candidate !== "") done();
    };
    const timer = setTimeout(done, maxMs);
    pc.addEventListener("icegatheringstatechange", onChange);
    pc.addEventListener("icecandidate", onCandidate);
  });
}

/** Hold no frame back: play each as soon as it is decodable (Chromium: jitterBufferTarget). */
export function tuneForLowDelay(receiver: RTCRtpReceiver): void {
  const r = receiver as unknown as { jitterBufferTarget?: number | null; playoutDelayHint?: number };
  try {
    if ("jitterBufferTarget" in r) r.jitterBufferTarget = 0;
    else if ("playoutDelayHint" in r) r.playoutDelayHint = 0;
  } catch {
    // a browser that refuses the value keeps its own target
  }
}

export interface WhepSession {
  readonly pc: RTCPeerConnection;
  readonly stream: MediaStream;
  readonly receiver: RTCRtpReceiver;
  /** The session's URL on the server. */
  readonly location: string;
  /** Ends it: closes the connection and DELETEs the session (keepalive when the page goes). */
  close(keepalive?: boolean): void;
}

/**
 * Offers to receive `camera`'s video and connects. Resolves once the answer is set (the media
 * flows after ICE and DTLS); rejects with the API's error (ApiError, NetworkError) or the
 * browser's. The connection is closed on any failure.
 */
export async function connectWhep(
  api: WhepApi,
  createPeer: PeerFactory,
  camera: string,
  iceServers: RTCIceServer[],
  signal?: AbortSignal,
): Promise<WhepSession> {
  const pc = createPeer({ iceServers, bundlePolicy: "max-bundle" });
  const stream = new MediaStream();
  let location: string | null = null;
  try {
    const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
    tuneForLowDelay(transceiver.receiver);
    pc.addEventListener("track", (e: RTCTrackEvent) => {
      if (!stream.getTracks().includes(e.track)) stream.addTrack(e.track);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const offer = pc.localDescription?.sdp;
    if (!offer) throw new Error("the browser made no SDP offer");
    if (pc.iceGatheringState === "complete" && !/^a=candidate:/m.test(offer)) {
      // Nothing to reach the server from (UDP blocked by policy, no TURN): no offer to make.
      throw new Error("the browser has no ICE candidate (UDP blocked?)");
    }
    const answer = await api.whepOffer(camera, offer, signal);
    location = answer.location;
    if (signal?.aborted) throw new DOMException("aborted", "AbortError");
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    // Some browsers fire "track" before the stream exists; the receiver's track is the one.
    if (stream.getTracks().length === 0) stream.addTrack(transceiver.receiver.track);
    const at = location;
    let closed = false;
    return {
      pc,
      stream,
      receiver: transceiver.receiver,
      location: at,
      close(keepalive = false) {
        if (closed) return;
        closed = true;
        pc.close();
        void api.whepEnd(at, keepalive).catch(() => undefined);
      },
    };
  } catch (error) {
    pc.close();
    if (location !== null) void api.whepEnd(location).catch(() => undefined);
    throw error;
  }
}

/** What the debug overlay and latencyS show about a WebRTC view, from getStats. */
export interface WebRtcStats {
  /** Seconds: the jitter buffer's average delay plus half the round trip (null when unknown). */
  delayS: number | null;
  jitterBufferS: number | null;
  rttS: number | null;
  fps: number | null;
  width: number | null;
  height: number | null;
  packetsLost: number | null;
  framesDecoded: number;
}

type StatsEntry = Record<string, unknown> & { type: string };
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * The figures from a getStats() report. The jitter buffer's delay is cumulative: the average
 * over the whole session hides a recent change, so `previous` (the last reading's inbound-rtp
 * entry) makes it the average since then.
 */
export function readStats(
  report: Iterable<StatsEntry>,
  previous: { jitterBufferDelay: number; emitted: number } | null = null,
): { stats: WebRtcStats; jitter: { jitterBufferDelay: number; emitted: number } | null } {
  let inbound: StatsEntry | null = null;
  let rttS: number | null = null;
  for (const entry of report) {
    if (entry.type === "inbound-rtp" && entry.kind === "video") inbound = entry;
    if (entry.type === "candidate-pair" && (entry.nominated === true || entry.selected === true) && entry.state === "succeeded") {
      rttS = num(entry.currentRoundTripTime) ?? rttS;
    }
  }
  const delay = num(inbound?.jitterBufferDelay);
  const emitted = num(inbound?.jitterBufferEmittedCount);
  let jitterBufferS: number | null = null;
  let jitter: { jitterBufferDelay: number; emitted: number } | null = null;
  if (delay !== null && emitted !== null) {
    jitter = { jitterBufferDelay: delay, emitted };
    const dd = previous ? delay - previous.jitterBufferDelay : delay;
    const de = previous ? emitted - previous.emitted : emitted;
    jitterBufferS = de > 0 ? dd / de : previous && emitted > 0 ? delay / emitted : null;
  }
  const delayS = jitterBufferS === null ? null : jitterBufferS + (rttS ?? 0) / 2;
  return {
    stats: {
      delayS,
      jitterBufferS,
      rttS,
      fps: num(inbound?.framesPerSecond),
      width: num(inbound?.frameWidth),
      height: num(inbound?.frameHeight),
      packetsLost: num(inbound?.packetsLost),
      framesDecoded: num(inbound?.framesDecoded) ?? 0,
    },
    jitter,
  };
}

/** Reads the connection's stats now. */
export async function sampleStats(
  pc: RTCPeerConnection,
  previous: { jitterBufferDelay: number; emitted: number } | null,
): Promise<ReturnType<typeof readStats>> {
  const report = await pc.getStats();
  const entries: StatsEntry[] = [];
  report.forEach((value: StatsEntry) => entries.push(value));
  return readStats(entries, previous);
}
