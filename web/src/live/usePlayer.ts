/** Runs a Player on a <video> for as long as a screen shows it, and exposes it to the debug hook. */
import { useEffect, useRef, useState } from "preact/hooks";
import { navigate } from "../router";
import { startLive } from "./live";
import { setCurrentPlayer, startPlayer, type Mode, type Player, type PlayerCallbacks, type PlayerStatus } from "./player";

export function usePlayer(
  url: string,
  mode: Mode,
  startWallMs: number | null = null,
  onTimeline?: () => void,
  /** Live: the camera, to try WebRTC first (without it, live plays over HLS). */
  camera?: string,
): {
  videoRef: { current: HTMLVideoElement | null };
  player: Player | null;
  status: PlayerStatus;
  message: string | null;
} {
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const [player, setPlayer] = useState<Player | null>(null);
  const [status, setStatus] = useState<PlayerStatus>("loading");
  const [message, setMessage] = useState<string | null>(null);
  const timeline = useRef(onTimeline);
  timeline.current = onTimeline;

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    let cancelled = false;
    let created: Player | null = null;
    setStatus("loading");
    setMessage(null);
    const callbacks: PlayerCallbacks = {
      onStatus: (s, m) => {
        if (cancelled) return;
        setStatus(s);
        setMessage(m ?? null);
      },
      onSignIn: () => {
        if (!cancelled) navigate(`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
      },
      onTimeline: () => timeline.current?.(),
    };
    const started =
      mode === "live" && camera !== undefined
        ? startLive(video, camera, url, callbacks)
        : startPlayer(video, url, mode, callbacks, startWallMs);
    void started.then((p) => {
      if (cancelled) {
        p.destroy();
        return;
      }
      created = p;
      setPlayer(p);
      setCurrentPlayer(p);
    });
    return () => {
      cancelled = true;
      if (created) {
        setCurrentPlayer(null);
        created.destroy();
      }
    };
  }, [url, mode, camera]);

  return { videoRef, player, status, message };
}
