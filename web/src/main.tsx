/** Starts the app: the theme, the debug hook, the service worker, and the first render. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { App } from "./app";
import { installDebugHook } from "./live/player";
import { applyTheme, storedTheme } from "./lib/theme";
import { navigate } from "./router";
import "./styles.css";

applyTheme(storedTheme());
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(storedTheme()));
installDebugHook();

let waiting: ServiceWorker | null = null;
const updateListeners = new Set<() => void>();

if ("serviceWorker" in navigator && import.meta.env.PROD) {
  void navigator.serviceWorker
    .register("/sw.js", { scope: "/" })
    .then((reg) => {
      const found = (w: ServiceWorker | null): void => {
        if (!w || !navigator.serviceWorker.controller) return; // the first install is not an update
        waiting = w;
        updateListeners.forEach((l) => l());
      };
      if (reg.waiting) found(reg.waiting);
      reg.addEventListener("updatefound", () => {
        const w = reg.installing;
        w?.addEventListener("statechange", () => w.state === "installed" && found(w));
      });
    })
    .catch(() => undefined);
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (waiting && !reloading) {
      reloading = true;
      location.reload();
    }
  });
  // A tapped notification: the worker asks this window to open the event.
  navigator.serviceWorker.addEventListener("message", (e: MessageEvent<{ type?: string; url?: string }>) => {
    const url = e.data?.url;
    if (e.data?.type === "open" && typeof url === "string" && url.startsWith("/") && !url.startsWith("//")) navigate(url);
  });
}

function Root() {
  const [updateReady, setUpdateReady] = useState(waiting !== null);
  useEffect(() => {
    const l = (): void => setUpdateReady(true);
    updateListeners.add(l);
    return () => void updateListeners.delete(l);
  }, []);
  return <App updateReady={updateReady} onUpdate={() => waiting?.postMessage({ type: "skip-waiting" })} />;
}

render(<Root />, document.getElementById("app") as HTMLElement);
