/**
 * Plays a camera's HLS playlist in a <video>: hls.js where MediaSource (or ManagedMediaSource)
 * exists, the browser's own HLS otherwise. Live is tuned for low delay and recovers by itself
 * (lib/recovery.ts decides); rewind plays the whole buffer and maps wall time to media time.
 */
import type HlsType from "hls.js/light";
import type { ErrorData, HlsConfig } from "hls.js/light";
import { decide, stallAction, type History } from "../lib/recovery";
import type { Frag } from "../lib/scrubber";
import { mediaToWall, wallToMedia } from "../lib/scrubber";
import type { Transport } from "../lib/transport";
import type { WebRtcStats } from "./webrtc";

export type PlayerStatus = "loading" | "playing" | "waiting" | "reconnecting" | "paused" | "failed";
export type Mode = "live" | "rewind";

export interface PlayerCallbacks {
  onStatus: (status: PlayerStatus, message?: string) => void;
  onSignIn: () => void;
  /** Rewind: the playlist (re)loaded, so the wall <-> media mapping may have changed. */
  onTimeline?: () => void;
}

/** What the debug overlay shows: the transport and its measured delay. */
export interface PlayerStats {
  transport: Transport;
  /** Seconds behind the camera: HLS from the playing frame's date, WebRTC from getStats. */
  delayS: number | null;
  /** HLS: seconds behind the playlist's live edge (hls.js's latency). */
  liveEdgeS?: number | null;
  webrtc?: WebRtcStats | null;
}

export interface Player {
  readonly video: HTMLVideoElement;
  readonly hls: HlsType | null;
  /** Which transport plays now (rewind: always HLS). */
  readonly transport: Transport;
  /** Seconds behind the camera (live): HLS from hls.js's playingDate, WebRTC from getStats; null when unknown. */
  latencyS(): number | null;
  stats(): PlayerStats;
  /** The wall time (UTC ms) of the frame shown, when the playlist dates it. */
  wallTime(): number | null;
  /** Plays from a wall time (rewind). */
  seekWall(ms: number): boolean;
  /** Back to the live edge (live). */
  toLiveEdge(): void;
  destroy(): void;
}

let hlsModule: Promise<typeof HlsType> | null = null;

/** hls.js is fetched once, on first need (or ahead of time with preload()). */
export function loadHls(): Promise<typeof HlsType> {
  hlsModule ??= import("hls.js/light").then((m) => m.default);
  return hlsModule;
}

export const preloadPlayer = (): void => void loadHls().catch(() => (hlsModule = null));

export const LIVE_CONFIG: Partial<HlsConfig> = {
  // 1-s segments (EXT-X-TARGETDURATION:1): hold ~1 s back, never more than 3 s, catch up at 1.5x.
  liveSyncDuration: 1,
  liveMaxLatencyDuration: 3,
  maxLiveSyncPlaybackRate: 1.5,
  liveDurationInfinity: true,
  lowLatencyMode: true,
  initialLiveManifestSize: 1,
  startFragPrefetch: true,
  maxBufferLength: 4,
  maxMaxBufferLength: 8,
  backBufferLength: 5,
  enableWorker: true,
};

export const REWIND_CONFIG: Partial<HlsConfig> = {
  autoStartLoad: false, // started at the wanted wall time once the playlist is known
  liveDurationInfinity: false,
  lowLatencyMode: false,
  maxBufferLength: 12,
  backBufferLength: 30,
  enableWorker: true,
};

function fragsOf(hls: HlsType): Frag[] {
  const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0];
  return (level?.details?.fragments ?? []).map((f) => ({
    start: f.start,
    duration: f.duration,
    programDateTime: f.programDateTime ?? null,
  }));
}

export async function startPlayer(
  video: HTMLVideoElement,
  url: string,
  mode: Mode,
  cb: PlayerCallbacks,
  startWallMs: number | null = null,
): Promise<Player> {
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  const Hls = await loadHls().catch(() => null);
  if (Hls && Hls.isSupported()) return hlsPlayer(Hls, video, url, mode, cb, startWallMs);
  if (video.canPlayType("application/vnd.apple.mpegurl")) return nativePlayer(video, url, mode, cb, startWallMs);
  cb.onStatus("failed", "This browser cannot play the camera's video.");
  return nativePlayer(video, url, mode, cb, startWallMs, false);
}

export function play(video: HTMLVideoElement, cb: PlayerCallbacks): void {
  video.play().catch((e: unknown) => {
    if (e instanceof DOMException && e.name === "NotAllowedError") cb.onStatus("paused", "Tap play to start.");
  });
}

function hlsPlayer(
  Hls: typeof HlsType,
  video: HTMLVideoElement,
  url: string,
  mode: Mode,
  cb: PlayerCallbacks,
  startWallMs: number | null,
): Player {
  let hls: HlsType | null = null;
  let destroyed = false;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let pendingStart = startWallMs;
  const history: History = { networkRetries: 0, lastMediaRecoveryMs: null, mediaRecoveries: 0, nowMs: 0 };
  let lastTime = -1;
  let lastProgressMs = Date.now();
  let wantPlay = true;

  const create = (): void => {
    if (destroyed) return;
    hls?.destroy();
    const h = new Hls({ ...(mode === "live" ? LIVE_CONFIG : REWIND_CONFIG) });
    hls = h;
    if (mode === "rewind") {
      h.once(Hls.Events.LEVEL_LOADED, () => {
        const frags = fragsOf(h);
        const wanted = pendingStart ?? Date.now() - 60_000;
        const pos = wallToMedia(frags, wanted);
        h.startLoad(pos ?? -1);
        if (pos !== null) video.currentTime = pos;
        pendingStart = null;
      });
      h.on(Hls.Events.LEVEL_UPDATED, () => cb.onTimeline?.());
    }
    h.on(Hls.Events.FRAG_BUFFERED, () => {
      history.networkRetries = 0;
    });
    h.on(Hls.Events.ERROR, (_e, data: ErrorData) => handleError(h, data));
    h.loadSource(url);
    h.attachMedia(video);
    if ("ManagedMediaSource" in window && !("MediaSource" in window)) video.disableRemotePlayback = true;
    cb.onStatus(history.networkRetries > 0 ? "reconnecting" : "loading");
    play(video, cb);
  };

  const schedule = (delayMs: number, fn: () => void): void => {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (!destroyed) fn();
    }, delayMs);
  };

  const handleError = (h: HlsType, data: ErrorData): void => {
    history.nowMs = Date.now();
    const action = decide(
      { type: data.type, details: data.details, fatal: data.fatal, status: data.response?.code || undefined },
      history,
    );
    switch (action.kind) {
      case "ignore":
        return;
      case "signIn":
        cb.onSignIn();
        return;
      case "fail":
        cb.onStatus("failed", action.message);
        h.destroy();
        return;
      case "startLoad":
        history.networkRetries++;
        cb.onStatus("reconnecting");
        schedule(action.delayMs, () => h.startLoad());
        return;
      case "recoverMedia":
        history.mediaRecoveries++;
        history.lastMediaRecoveryMs = history.nowMs;
        h.recoverMediaError();
        return;
      case "swapAudioCodecAndRecover":
        history.mediaRecoveries++;
        history.lastMediaRecoveryMs = history.nowMs;
        h.swapAudioCodec();
        h.recoverMediaError();
        return;
      case "restart":
        history.networkRetries++;
        cb.onStatus("reconnecting");
        if (mode === "rewind") pendingStart = wallTime();
        schedule(action.delayMs, create);
        return;
    }
  };

  const wallTime = (): number | null => {
    const d = hls?.playingDate;
    if (d) return d.getTime();
    return hls ? mediaToWall(fragsOf(hls), video.currentTime) : null;
  };

  const onPlaying = (): void => cb.onStatus("playing");
  const onWaiting = (): void => cb.onStatus("waiting");
  const onPause = (): void => {
    if (!video.ended) cb.onStatus("paused");
  };
  const onPlay = (): void => {
    wantPlay = true;
    lastProgressMs = Date.now();
  };
  const onUserPause = (): void => {
    wantPlay = false;
  };
  const onOnline = (): void => {
    if (history.networkRetries > 0) schedule(0, create);
  };
  video.addEventListener("playing", onPlaying);
  video.addEventListener("waiting", onWaiting);
  video.addEventListener("pause", onPause);
  video.addEventListener("pause", onUserPause);
  video.addEventListener("play", onPlay);
  window.addEventListener("online", onOnline);

  // The watchdog: video that stopped moving without an error.
  const watchdog = setInterval(() => {
    const now = Date.now();
    if (video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      lastProgressMs = now;
      history.mediaRecoveries = 0;
      return;
    }
    if (mode !== "live" || document.visibilityState !== "visible") {
      lastProgressMs = now;
      return;
    }
    const action = stallAction({ playing: wantPlay && !video.paused, lastProgressMs, nowMs: now, online: navigator.onLine });
    if (action === "seekLive" && hls?.liveSyncPosition != null) {
      video.currentTime = hls.liveSyncPosition;
      lastProgressMs = now - 2_500 + 1_000; // give the jump a moment before deciding again
    } else if (action === "restart") {
      lastProgressMs = now;
      create();
    }
  }, 1_000);

  create();

  const latencyS = (): number | null => {
    const d = hls?.playingDate;
    return d ? Math.max(0, (Date.now() - d.getTime()) / 1000) : null;
  };

  return {
    video,
    get hls() {
      return hls;
    },
    transport: "hls",
    latencyS,
    stats: () => {
      const edge = hls?.latency;
      return { transport: "hls", delayS: latencyS(), liveEdgeS: typeof edge === "number" && Number.isFinite(edge) ? edge : null };
    },
    wallTime,
    seekWall(ms: number) {
      if (!hls) return false;
      const pos = wallToMedia(fragsOf(hls), ms);
      if (pos === null) {
        pendingStart = ms;
        return false;
      }
      video.currentTime = pos;
      if (video.paused && wantPlay) play(video, cb);
      return true;
    },
    toLiveEdge() {
      if (hls?.liveSyncPosition != null) video.currentTime = hls.liveSyncPosition;
      play(video, cb);
    },
    destroy() {
      destroyed = true;
      if (retryTimer) clearTimeout(retryTimer);
      clearInterval(watchdog);
      video.removeEventListener("playing", onPlaying);
      video.removeEventListener("waiting", onWaiting);
      video.removeEventListener("pause", onPause);
      video.removeEventListener("pause", onUserPause);
      video.removeEventListener("play", onPlay);
      window.removeEventListener("online", onOnline);
      hls?.destroy();
      hls = null;
      video.removeAttribute("src");
      video.load();
    },
  };
}

/** Safari before MediaSource (iOS < 17.1): the browser plays HLS itself. */
function nativePlayer(
  video: HTMLVideoElement,
  url: string,
  mode: Mode,
  cb: PlayerCallbacks,
  startWallMs: number | null,
  load = true,
): Player {
  // Safari: getStartDate() is the playlist's EXT-X-PROGRAM-DATE-TIME at media time 0.
  const startDate = (): number | null => {
    const d = (video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
    const t = d?.getTime();
    return t !== undefined && Number.isFinite(t) ? t : null;
  };
  let stallTimer: ReturnType<typeof setTimeout> | null = null;
  const reload = (): void => {
    video.src = url;
    play(video, cb);
  };
  const onPlaying = (): void => cb.onStatus("playing");
  const onWaiting = (): void => {
    cb.onStatus("waiting");
    // Native HLS can freeze without an error (an expired session): reload after a while.
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = setTimeout(reload, 8_000);
  };
  const onTime = (): void => {
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = null;
  };
  const onError = (): void => {
    cb.onStatus("reconnecting");
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = setTimeout(reload, 3_000);
  };
  const onMeta = (): void => {
    if (mode === "rewind" && startWallMs !== null) {
      const s = startDate();
      if (s !== null) video.currentTime = Math.max(0, (startWallMs - s) / 1000);
    }
  };
  video.addEventListener("playing", onPlaying);
  video.addEventListener("waiting", onWaiting);
  video.addEventListener("timeupdate", onTime);
  video.addEventListener("error", onError);
  video.addEventListener("loadedmetadata", onMeta);
  if (load) {
    cb.onStatus("loading");
    reload();
  }
  const latencyS = (): number | null => {
    const s = startDate();
    return s === null ? null : Math.max(0, (Date.now() - (s + video.currentTime * 1000)) / 1000);
  };
  return {
    video,
    hls: null,
    transport: "hls",
    latencyS,
    stats: () => ({ transport: "hls", delayS: latencyS(), liveEdgeS: null }),
    wallTime() {
      const s = startDate();
      return s === null ? null : s + video.currentTime * 1000;
    },
    seekWall(ms: number) {
      const s = startDate();
      if (s === null) return false;
      video.currentTime = Math.max(0, (ms - s) / 1000);
      return true;
    },
    toLiveEdge() {
      if (video.seekable.length > 0) video.currentTime = Math.max(0, video.seekable.end(video.seekable.length - 1) - 1);
      play(video, cb);
    },
    destroy() {
      if (stallTimer) clearTimeout(stallTimer);
      video.removeEventListener("playing", onPlaying);
      video.removeEventListener("waiting", onWaiting);
      video.removeEventListener("timeupdate", onTime);
      video.removeEventListener("error", onError);
      video.removeEventListener("loadedmetadata", onMeta);
      video.removeAttribute("src");
      video.load();
    },
  };
}

// --- the debug hook for the end-to-end tests and the latency benchmark ---------------------

let current: Player | null = null;

export function setCurrentPlayer(player: Player | null): void {
  current = player;
}

export interface DebugHook {
  player(): {
    video: HTMLVideoElement;
    hls: unknown | null;
    transport: Transport;
    latencyS(): number | null;
    stats(): PlayerStats;
  } | null;
}

/** `window.__doorbell`, read-only: the player on screen (live or rewind), or null. */
export function installDebugHook(): void {
  const hook: DebugHook = Object.freeze({
    player: () => {
      const p = current;
      if (!p) return null;
      return Object.freeze({
        video: p.video,
        hls: p.hls,
        transport: p.transport,
        latencyS: () => p.latencyS(),
        stats: () => p.stats(),
      });
    },
  });
  Object.defineProperty(window, "__doorbell", { value: hook, writable: false, configurable: false, enumerable: false });
}
