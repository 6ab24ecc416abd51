/** What every screen shares: who is signed in, the cameras, the live notices, a way to flash a message. */
import { createContext, type ComponentChildren, type JSX } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api/client";
import type { Camera } from "../api/types";
import type { Notice } from "../lib/live-events";
import { navigate } from "../router";
import { stream, type StreamStatus } from "./stream";

export interface AppState {
  user: string | null;
  cameras: Camera[] | null;
  camerasError: unknown;
  refreshCameras: () => Promise<void>;
  cameraName: (id: string) => string;
  streamStatus: StreamStatus;
  online: boolean;
  signOut: () => Promise<void>;
}

const Ctx = createContext<AppState | null>(null);

export function useApp(): AppState {
  const value = useContext(Ctx);
  if (!value) throw new Error("useApp outside AppProvider");
  return value;
}

/** Calls `listener` with every live notice while the component is mounted. */
export function useNotices(listener: (notice: Notice) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => stream.onNotice((n) => ref.current(n)), []);
}

export function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const up = (): void => setOnline(true);
    const down = (): void => setOnline(false);
    window.addEventListener("online", up);
    window.addEventListener("offline", down);
    return () => {
      window.removeEventListener("online", up);
      window.removeEventListener("offline", down);
    };
  }, []);
  return online;
}

export function AppProvider(props: {
  user: string | null;
  onSignedOut: () => void;
  children: ComponentChildren;
}): JSX.Element {
  const [cameras, setCameras] = useState<Camera[] | null>(null);
  const [camerasError, setCamerasError] = useState<unknown>(null);
  const [streamStatus, setStreamStatus] = useState<StreamStatus>(stream.status);
  const online = useOnline();

  const refreshCameras = useCallback(async () => {
    try {
      setCameras(await api.cameras());
      setCamerasError(null);
    } catch (error) {
      setCamerasError(error);
    }
  }, []);

  useEffect(() => {
    void refreshCameras();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void refreshCameras();
    }, 10_000);
    return () => clearInterval(timer);
  }, [refreshCameras]);

  useEffect(() => {
    const off = stream.onStatus(setStreamStatus);
    stream.onTrouble = () => void api.currentSession().catch(() => undefined).then((s) => s === null && props.onSignedOut());
    stream.start();
    return () => {
      off();
      stream.stop();
    };
  }, []);

  useEffect(() => {
    if (online) {
      stream.kick();
      void refreshCameras();
    }
  }, [online]);

  // A camera's last event changes with each new one.
  useNotices((n) => {
    if (n.type === "event" || n.type === "events_deleted" || n.type === "events_cleared") void refreshCameras();
  });

  const cameraName = useCallback(
    (id: string) => cameras?.find((c) => c.id === id)?.name ?? id,
    [cameras],
  );

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } finally {
      navigate("/sign-in", { replace: true }); // a new start, not "come back to settings"
      props.onSignedOut();
    }
  }, [props.onSignedOut]);

  return (
    <Ctx.Provider
      value={{ user: props.user, cameras, camerasError, refreshCameras, cameraName, streamStatus, online, signOut }}
    >
      {props.children}
    </Ctx.Provider>
  );
}
