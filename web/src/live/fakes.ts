/** Test fakes of the browser's WebRTC objects and of the API's WHEP calls (used by *.test.ts only). */
import { ApiError } from "../api/errors";
import type { WhepAnswer } from "../api/client";
import type { WebRtcInfo } from "../api/types";
import type { WhepApi } from "./webrtc";

export class FakeTrack {
  readonly kind = "video";
  constructor(readonly id: string) {}
}

/** Enough of MediaStream for connectWhep (Node has none). */
export class FakeMediaStream {
  private readonly tracks: FakeTrack[] = [];
  getTracks(): FakeTrack[] {
    return [...this.tracks];
  }
  addTrack(t: FakeTrack): void {
    this.tracks.push(t);
  }
}

export interface FakePeerOptions {
  /** ms after setLocalDescription when gathering completes; null: never. */
  gatherMs?: number | null;
  /** ms after setLocalDescription when the first candidate comes; null: only at the end. */
  candidateMs?: number | null;
  /** Gathering completes with no candidate (UDP blocked by policy). */
  noCandidates?: boolean;
  /** The frame count getStats reports, read at each call. */
  frames?: () => number;
  failRemote?: Error;
}

export class FakePeer extends EventTarget {
  static made: FakePeer[] = [];
  iceGatheringState: RTCIceGatheringState = "new";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  transceivers: { direction: string; kind: string; receiver: { track: FakeTrack; jitterBufferTarget: number | null } }[] = [];
  closed = false;

  constructor(
    readonly config: RTCConfiguration,
    private readonly options: FakePeerOptions = {},
  ) {
    super();
    FakePeer.made.push(this);
  }

  addTransceiver(kind: string, init: { direction: string }): (typeof this.transceivers)[number] {
    const t = { kind, direction: init.direction, receiver: { track: new FakeTrack("v0"), jitterBufferTarget: null } };
    this.transceivers.push(t);
    return t;
  }

  async createOffer(): Promise<{ type: string; sdp: string }> {
    const video = this.transceivers.map((t) => `m=${t.kind} 9 UDP/TLS/RTP/SAVPF 96\r\na=${t.direction}\r\n`).join("");
    return { type: "offer", sdp: `v=0\r\n${video}` };
  }

  async setLocalDescription(d: { type: string; sdp: string }): Promise<void> {
    this.localDescription = { ...d };
    this.iceGatheringState = "gathering";
    const line = "a=candidate:1 1 udp 1 192.0.2.1 5000 typ host";
    const candidateMs = this.options.candidateMs === undefined ? null : this.options.candidateMs;
    if (candidateMs !== null && !this.options.noCandidates) {
      setTimeout(() => {
        this.localDescription = { type: "offer", sdp: `${d.sdp}${line}\r\n` };
        const event = Object.assign(new Event("icecandidate"), { candidate: { candidate: line.slice(2) } });
        this.dispatchEvent(event);
      }, candidateMs);
    }
    const ms = this.options.gatherMs === undefined ? 10 : this.options.gatherMs;
    if (ms === null) return;
    setTimeout(() => {
      this.iceGatheringState = "complete";
      const candidate = this.options.noCandidates ? "" : `${line}\r\n`;
      this.localDescription = { type: "offer", sdp: `${d.sdp}${candidate}` };
      this.dispatchEvent(new Event("icegatheringstatechange"));
    }, ms);
  }

  async setRemoteDescription(d: { type: string; sdp: string }): Promise<void> {
    if (this.options.failRemote) throw this.options.failRemote;
    this.remoteDescription = d;
    this.connectionState = "connecting";
  }

  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    const frames = this.options.frames?.() ?? 0;
    return new Map([
      ["in", { type: "inbound-rtp", kind: "video", framesDecoded: frames, jitterBufferDelay: frames * 0.02, jitterBufferEmittedCount: frames }],
    ]);
  }

  fail(): void {
    this.connectionState = "failed";
    this.dispatchEvent(new Event("connectionstatechange"));
  }

  close(): void {
    this.closed = true;
    this.connectionState = "closed";
  }
}

/** A fake of the API's WHEP calls: answers queued per call, calls recorded. */
export class FakeWhepApi implements WhepApi {
  info: WebRtcInfo | Error = { enabled: true, ice_servers: [{ urls: ["stun:stun.example.org:3478"] }] };
  answers: (WhepAnswer | Error)[] = [];
  offers: { camera: string; sdp: string }[] = [];
  ended: { location: string; keepalive: boolean }[] = [];
  infoCalls = 0;
  /** How long the server takes to answer an offer (fake time). */
  answerDelayMs = 0;
  private n = 0;

  async webrtc(): Promise<WebRtcInfo> {
    this.infoCalls++;
    if (this.info instanceof Error) throw this.info;
    return this.info;
  }

  async whepOffer(camera: string, sdp: string): Promise<WhepAnswer> {
    this.offers.push({ camera, sdp });
    if (this.answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.answerDelayMs));
    const next = this.answers.shift() ?? { sdp: "v=0\r\nanswer\r\n", location: `/api/v1/cameras/${camera}/whep/s${++this.n}` };
    if (next instanceof Error) throw next;
    return next;
  }

  async whepEnd(location: string, keepalive = false): Promise<void> {
    this.ended.push({ location, keepalive });
  }
}

export const apiError = (status: number, code?: string, retryAfterS: number | null = null): ApiError =>
  new ApiError(status, { detail: `answered ${status}`, ...(code ? { reason: code } : {}) }, retryAfterS);
