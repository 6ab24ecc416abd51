/**
 * The live view's player: WebRTC (WHEP) first, HLS (player.ts) when WebRTC cannot play here,
 * on one <video>. lib/transport.ts decides; this carries it out: it starts, watches the frame
 * count, restarts a WebRTC view whose frames stopped, and hands over to HLS for good when
 * WebRTC cannot connect. The Player it returns looks the same whichever transport plays.
 */
import { api as defaultApi } from "../api/client";
import { ApiError } from "../api/errors";
import { backoff } from "../lib/recovery";
import { afterOfferError, firstTransport, watchWebrtc, type Transport } from "../lib/transport";
import { play, startPlayer, type Player, type PlayerCallbacks, type PlayerStats } from "./player";
import {
  browserPeerFactory,
  connectWhep,
  sampleStats,
  webrtcInfo,
  type PeerFactory,
  type WebRtcStats,
  type WhepApi,
  type WhepSession,
} from "./webrtc";

export const OFFLINE_MESSAGE = "The camera is offline. Waiting for it…";
const WATCH_MS = 500;
const FIRST_FRAME_WATCH_MS = 200; // sooner "playing", and the 3-s bound kept closely

export interface LiveDeps {
  api: WhepApi;
  peer: PeerFactory | null;
  startHls: (video: HTMLVideoElement, url: string, cb: PlayerCallbacks) => Promise<Player>;
  now: () => number;
  visible: () => boolean;
}

const defaultDeps = (): LiveDeps => ({
  api: defaultApi,
  peer: browserPeerFactory(),
  startHls: (video, url, cb) => startPlayer(video, url, "live", cb),
  now: Date.now,
  visible: () => document.visibilityState === "visible",
});

interface Watch {
  session: WhepSession;
  startedMs: number;
  firstFrameMs: number | null;
  lastFrameMs: number | null;
  frames: number;
  jitter: { jitterBufferDelay: number; emitted: number } | null;
  stats: WebRtcStats | null;
}

/** A live player that tries WebRTC first; resolves at once (the transport settles later). */
export async function startLive(
  video: HTMLVideoElement,
  camera: string,
  hlsUrl: string,
  cb: PlayerCallbacks,
  deps: LiveDeps = defaultDeps(),
): Promise<Player> {
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  let transport: Transport = "webrtc";
  let hls: Player | null = null;
  let watch: Watch | null = null;
  let destroyed = false;
  let played = false;
  let restarts = 0; // connections without a frame since the last one (MAX_RESTARTS: then HLS)
  let offlineTries = 0; // offers refused as camera_offline in a row (their backoff only)
  let timer: ReturnType<typeof setTimeout> | null = null;
  let poll: ReturnType<typeof setInterval> | null = null;
  let generation = 0; // a start superseded by another (or by destroy) drops its result

  const endWebrtc = (keepalive = false): void => {
    if (poll) clearInterval(poll);
    poll = null;
    watch?.session.close(keepalive);
    watch = null;
    if (video.srcObject) video.srcObject = null;
  };

  const toHls = async (reason: string): Promise<void> => {
    endWebrtc();
    if (destroyed || transport === "hls") return; // once: HLS stays for the rest of the view
    transport = "hls";
    console.info(`Live view over HLS: ${reason}`);
    const gen = ++generation;
    const p = await deps.startHls(video, hlsUrl, cb);
    if (destroyed || gen !== generation) p.destroy();
    else hls = p;
  };

  const schedule = (delayMs: number, fn: () => void): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!destroyed) fn();
    }, delayMs);
  };

  const restart = (): void => {
    endWebrtc();
    cb.onStatus("reconnecting");
    schedule(backoff(restarts++), () => void start());
  };

  const check = async (w: Watch): Promise<void> => {
    const sample = await sampleStats(w.session.pc, w.jitter).catch(() => null);
    if (watch !== w || destroyed) return;
    const now = deps.now();
    if (sample) {
      w.jitter = sample.jitter ?? w.jitter;
      w.stats = sample.stats;
      if (sample.stats.framesDecoded > w.frames) {
        w.frames = sample.stats.framesDecoded;
        w.lastFrameMs = now;
        if (w.firstFrameMs === null) {
          w.firstFrameMs = now;
          played = true;
          restarts = 0;
          cb.onStatus("playing");
        }
      }
    }
    const action = watchWebrtc({
      nowMs: now,
      startedMs: w.startedMs,
      firstFrameMs: w.firstFrameMs,
      lastFrameMs: w.lastFrameMs,
      connection: w.session.pc.connectionState,
      played,
      restarts,
      visible: deps.visible(),
    });
    if (action === "restart") restart();
    else if (action === "hls") void toHls("no frame over WebRTC");
  };

  const connected = (session: WhepSession, startedMs: number): void => {
    const w: Watch = { session, startedMs, firstFrameMs: null, lastFrameMs: null, frames: 0, jitter: null, stats: null };
    watch = w;
    video.srcObject = session.stream;
    play(video, cb);
    const firstPoll = setInterval(() => {
      if (w.firstFrameMs === null) return void check(w);
      clearInterval(firstPoll);
      if (watch === w) poll = setInterval(() => void check(w), WATCH_MS);
    }, FIRST_FRAME_WATCH_MS);
    poll = firstPoll;
    session.pc.addEventListener("connectionstatechange", () => {
      if (session.pc.connectionState === "failed") void check(w);
    });
  };

  const start = async (): Promise<void> => {
    const gen = ++generation;
    const startedMs = deps.now(); // the 3 s for a first frame count from here, offer included
    if (!played && restarts === 0 && offlineTries === 0) cb.onStatus("loading");
    const info = await webrtcInfo(deps.api).catch((error: unknown) => error);
    if (destroyed || gen !== generation) return;
    if (info instanceof ApiError && info.status === 401) return cb.onSignIn();
    const server = info instanceof Error ? null : (info as { enabled: boolean });
    if (!deps.peer || firstTransport(true, server) === "hls") {
      return toHls(deps.peer ? "the server does not offer WebRTC" : "this browser has no WebRTC");
    }
    const iceServers = (info as { ice_servers: RTCIceServer[] }).ice_servers ?? [];
    try {
      const session = await connectWhep(deps.api, deps.peer, camera, iceServers);
      if (destroyed || gen !== generation) return session.close();
      offlineTries = 0;
      connected(session, startedMs);
    } catch (error) {
      if (destroyed || gen !== generation) return;
      const outcome = afterOfferError(error, offlineTries);
      if (outcome.kind === "signIn") return cb.onSignIn();
      if (outcome.kind === "hls") return toHls(outcome.reason);
      cb.onStatus("reconnecting", OFFLINE_MESSAGE);
      offlineTries++;
      schedule(outcome.delayMs, () => void start());
    }
  };

  const onPagehide = (): void => endWebrtc(true);
  const onPageshow = (e: PageTransitionEvent): void => {
    if (e.persisted && transport === "webrtc" && !watch) void start();
  };
  const onPause = (): void => {
    if (transport === "webrtc" && watch) cb.onStatus("paused");
  };
  const onPlay = (): void => {
    if (transport === "webrtc" && watch?.firstFrameMs != null) cb.onStatus("playing");
  };
  window.addEventListener("pagehide", onPagehide);
  window.addEventListener("pageshow", onPageshow);
  video.addEventListener("pause", onPause);
  video.addEventListener("play", onPlay);

  void start();

  const stats = (): PlayerStats => {
    if (transport === "hls" && hls) return hls.stats();
    const s = watch?.stats ?? null;
    return { transport: "webrtc", delayS: s?.delayS ?? null, webrtc: s };
  };

  return {
    video,
    get hls() {
      return hls?.hls ?? null;
    },
    get transport() {
      return transport;
    },
    latencyS: () => (transport === "hls" ? (hls?.latencyS() ?? null) : (watch?.stats?.delayS ?? null)),
    stats,
    wallTime: () => (transport === "hls" ? (hls?.wallTime() ?? null) : deps.now()),
    seekWall: () => false,
    toLiveEdge() {
      if (hls) hls.toLiveEdge();
      else play(video, cb);
    },
    destroy() {
      destroyed = true;
      generation++;
      if (timer) clearTimeout(timer);
      window.removeEventListener("pagehide", onPagehide);
      window.removeEventListener("pageshow", onPageshow);
      video.removeEventListener("pause", onPause);
      video.removeEventListener("play", onPlay);
      endWebrtc();
      hls?.destroy();
      hls = null;
    },
  };
}
