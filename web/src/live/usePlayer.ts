/** Runs a Player on a <video> for as long as a screen shows it, and exposes it to the debug hook. */
import { useEffect, useRef, useState } from "preact/hooks";
import { navigate } from "../router";
import { setCurrentPlayer, startPlayer, type Mode, type Player, type PlayerStatus } from "./player";

export function usePlayer(
  url: string,
  mode: Mode,
  startWallMs: number | null = null,
  onTimeline?: () => void,
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
    void startPlayer(
      video,
      url,
      mode,
      {
        onStatus: (s, m) => {
          if (cancelled) return;
          setStatus(s);
          setMessage(m ?? null);
        },
        onSignIn: () => {
          if (!cancelled) navigate(`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
        },
        onTimeline: () => timeline.current?.(),
      },
      startWallMs,
    ).then((p) => {
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
  }, [url, mode]);

  return { videoRef, player, status, message };
}
