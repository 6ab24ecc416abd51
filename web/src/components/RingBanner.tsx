/** "Someone is at the door": shown on any screen the moment a ring arrives over the live stream. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { DoorbellEvent } from "../api/types";
import { Link } from "../router";
import { useApp, useNotices } from "../state/app";
import { clockTime, localTimeZone } from "../lib/time";
import { BellIcon, CloseIcon } from "./icons";

const SHOW_MS = 120_000;

export function RingBanner(): JSX.Element | null {
  const { cameraName } = useApp();
  const [ring, setRing] = useState<DoorbellEvent | null>(null);

  useNotices((n) => {
    if (n.type === "event" && n.event.kind === "ring") {
      setRing(n.event);
      if (document.visibilityState === "visible") navigator.vibrate?.([180, 80, 180]);
    }
    if (n.type === "events_deleted" && ring && n.ids.includes(ring.id)) setRing(null);
    if (n.type === "events_cleared") setRing(null);
  });

  useEffect(() => {
    if (!ring) return;
    const t = setTimeout(() => setRing(null), SHOW_MS);
    return () => clearTimeout(t);
  }, [ring]);

  if (!ring) return null;
  const name = cameraName(ring.camera);
  return (
    <div class="ring-banner" role="alert">
      <span class="ring-banner__icon">
        <BellIcon size={26} />
      </span>
      <div class="ring-banner__text">
        <strong>Someone rang at {name}</strong>
        <span>{clockTime(ring.at_ms, localTimeZone())}</span>
      </div>
      <div class="ring-banner__actions">
        <Link class="btn primary small" href={`/cameras/${encodeURIComponent(ring.camera)}`} onClick={() => setRing(null)}>
          Watch live
        </Link>
        <Link class="btn small" href={`/events/${encodeURIComponent(ring.id)}`} onClick={() => setRing(null)}>
          Open event
        </Link>
        <button type="button" class="btn ghost small icon-only" aria-label="Dismiss" onClick={() => setRing(null)}>
          <CloseIcon size={18} />
        </button>
      </div>
    </div>
  );
}
