/** Says plainly when the app is offline or reconnecting (a polite live region). */
import type { JSX } from "preact";
import { useApp } from "../state/app";

export function StatusBar(): JSX.Element {
  const { online, streamStatus } = useApp();
  let text = "";
  let kind = "";
  if (!online) {
    text = "You are offline. What you see may be out of date; the app reconnects by itself.";
    kind = "offline";
  } else if (streamStatus === "reconnecting") {
    text = "Reconnecting to the server…";
    kind = "reconnecting";
  }
  return (
    <div class={`status-bar ${kind}`} role="status" aria-live="polite">
      {text}
    </div>
  );
}
