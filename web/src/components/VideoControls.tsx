/** Fullscreen, picture-in-picture and sound for a player's <video> (each shown only where the browser has it). */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { FullscreenIcon, PipIcon, SoundOffIcon, SoundOnIcon } from "./icons";

export function VideoControls(props: { video: HTMLVideoElement | null; frame: HTMLElement | null }): JSX.Element {
  const { video, frame } = props;
  const [muted, setMuted] = useState(true);
  const [, force] = useState(0);

  useEffect(() => {
    const update = (): void => force((n) => n + 1);
    document.addEventListener("fullscreenchange", update);
    return () => document.removeEventListener("fullscreenchange", update);
  }, []);

  const canFullscreen =
    !!frame && (document.fullscreenEnabled || typeof (video as unknown as { webkitEnterFullscreen?: unknown })?.webkitEnterFullscreen === "function");
  const canPip = !!video && document.pictureInPictureEnabled && !video.disablePictureInPicture;

  const fullscreen = async (): Promise<void> => {
    if (document.fullscreenElement) return void (await document.exitFullscreen());
    if (frame?.requestFullscreen) {
      await frame.requestFullscreen().catch(() => undefined);
      const orientation = screen.orientation as ScreenOrientation & { lock?: (o: string) => Promise<void> };
      await orientation.lock?.("landscape").catch(() => undefined);
    } else {
      (video as unknown as { webkitEnterFullscreen: () => void }).webkitEnterFullscreen(); // iPhone
    }
  };

  const pip = async (): Promise<void> => {
    if (!video) return;
    if (document.pictureInPictureElement) await document.exitPictureInPicture();
    else await video.requestPictureInPicture().catch(() => undefined);
  };

  return (
    <div class="video-controls" role="group" aria-label="Video">
      <button
        type="button"
        class="btn ghost small icon-only"
        aria-label="Sound"
        title={muted ? "Sound off" : "Sound on"}
        aria-pressed={!muted}
        onClick={() => {
          if (!video) return;
          video.muted = !video.muted;
          setMuted(video.muted);
        }}
      >
        {muted ? <SoundOffIcon size={20} /> : <SoundOnIcon size={20} />}
      </button>
      {canPip && (
        <button type="button" class="btn ghost small icon-only" aria-label="Picture in picture" title="Picture in picture" onClick={() => void pip()}>
          <PipIcon size={20} />
        </button>
      )}
      {canFullscreen && (
        <button
          type="button"
          class="btn ghost small icon-only"
          aria-label={document.fullscreenElement ? "Exit full screen" : "Full screen"}
          title={document.fullscreenElement ? "Exit full screen" : "Full screen"}
          onClick={() => void fullscreen()}
        >
          <FullscreenIcon size={20} />
        </button>
      )}
    </div>
  );
}
