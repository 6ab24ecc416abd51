/** The app: who is signed in decides between the sign-in page and the screens; the shell around them. */
import type { JSX } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "./api/client";
import { ApiError, NetworkError, describeError } from "./api/errors";
import type { Session } from "./api/types";
import { Logo } from "./components/Logo";
import { RingBanner } from "./components/RingBanner";
import { StatusBar } from "./components/StatusBar";
import { CameraIcon, GearIcon, ListIcon } from "./components/icons";
import { Link, match, navigate, safeNext, useLocation } from "./router";
import { Cameras } from "./screens/Cameras";
import { EventDetail } from "./screens/EventDetail";
import { Events } from "./screens/Events";
import { Live } from "./screens/Live";
import { Rewind } from "./screens/Rewind";
import { Settings } from "./screens/Settings";
import { SignIn } from "./screens/SignIn";
import { AppProvider } from "./state/app";

type Auth =
  | { kind: "checking" }
  | { kind: "signed-in"; user: string | null }
  | { kind: "signed-out" }
  | { kind: "unreachable"; message: string };

export function App(props: { updateReady: boolean; onUpdate: () => void }): JSX.Element {
  const loc = useLocation();
  const [auth, setAuth] = useState<Auth>({ kind: "checking" });

  const check = useCallback(async () => {
    try {
      const session = await api.currentSession();
      setAuth(session ? { kind: "signed-in", user: session.user.name } : { kind: "signed-out" });
    } catch (error) {
      // A server without sign-in yet (a development proxy with a token): use the API as it lets us.
      if (error instanceof ApiError && error.status === 404) setAuth({ kind: "signed-in", user: null });
      else setAuth({ kind: "unreachable", message: error instanceof NetworkError ? "" : describeError(error) });
    }
  }, []);

  const signedOut = useCallback(() => {
    api.setCsrfToken(null);
    setAuth({ kind: "signed-out" });
  }, []);

  useEffect(() => {
    api.onUnauthorized = signedOut;
    void check();
  }, []);

  useEffect(() => {
    if (auth.kind !== "unreachable") return;
    const retry = (): void => void check();
    window.addEventListener("online", retry);
    const t = setInterval(retry, 5_000);
    return () => {
      window.removeEventListener("online", retry);
      clearInterval(t);
    };
  }, [auth.kind]);

  // Keep the address in step with the state: signed out -> /sign-in?next=..., signed in -> off /sign-in.
  useEffect(() => {
    if (auth.kind === "signed-out" && loc.path !== "/sign-in") {
      navigate(`/sign-in?next=${encodeURIComponent(loc.href)}`, { replace: true });
    } else if (auth.kind === "signed-in" && loc.path === "/sign-in") {
      navigate(safeNext(loc.query.get("next")), { replace: true });
    }
  }, [auth.kind, loc.path]);

  if (auth.kind === "checking") {
    return (
      <main id="main" class="splash" aria-busy="true">
        <Logo size={64} />
        <span class="visually-hidden">Loading Doorbell…</span>
      </main>
    );
  }
  if (auth.kind === "unreachable") {
    return (
      <main id="main" class="splash">
        <Logo size={64} />
        <h1>{navigator.onLine ? "Cannot reach the Doorbell server" : "You are offline"}</h1>
        <p class="muted" role="status">
          {auth.message || "The app reconnects by itself as soon as the server answers."}
        </p>
        <button type="button" class="btn primary" onClick={() => void check()}>
          Try again
        </button>
      </main>
    );
  }
  if (auth.kind === "signed-out") {
    return (
      <SignIn
        onSignedIn={(session: Session) => {
          setAuth({ kind: "signed-in", user: session.user.name });
        }}
      />
    );
  }

  return (
    <AppProvider user={auth.user} onSignedOut={signedOut}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <div class="shell">
        <header class="topbar">
          <Link href="/" class="brand">
            <Logo size={28} />
            <span>Doorbell</span>
          </Link>
        </header>
        <Nav path={loc.path} />
        <div class="content">
          <StatusBar />
          {props.updateReady && (
            <div class="notice update" role="status">
              A new version of the app is ready.
              <button type="button" class="btn small primary" onClick={props.onUpdate}>
                Reload
              </button>
            </div>
          )}
          <RingBanner />
          <Screen path={loc.path} />
        </div>
      </div>
    </AppProvider>
  );
}

function Screen({ path }: { path: string }): JSX.Element {
  let m: Record<string, string> | null;
  if (path === "/" || path === "/cameras") return <Cameras />;
  if ((m = match("/cameras/:id", path))) return <Live key={m.id} id={m.id ?? ""} />;
  if ((m = match("/cameras/:id/rewind", path))) return <Rewind key={m.id} id={m.id ?? ""} />;
  if (path === "/events") return <Events />;
  if ((m = match("/events/:id", path))) return <EventDetail key={m.id} id={m.id ?? ""} />;
  if (path === "/settings") return <Settings />;
  return (
    <main id="main">
      <h1>Not found</h1>
      <p>
        There is no page here. <Link href="/">Go to the cameras</Link>.
      </p>
    </main>
  );
}

function Nav({ path }: { path: string }): JSX.Element {
  const items = [
    { href: "/", label: "Cameras", icon: <CameraIcon />, active: path === "/" || path.startsWith("/cameras") },
    { href: "/events", label: "Events", icon: <ListIcon />, active: path.startsWith("/events") },
    { href: "/settings", label: "Settings", icon: <GearIcon />, active: path === "/settings" },
  ];
  return (
    <nav class="nav" aria-label="Main">
      <ul role="list">
        {items.map((i) => (
          <li key={i.href}>
            <Link href={i.href} class={i.active ? "active" : ""} aria-current={i.active ? "page" : undefined}>
              {i.icon}
              <span>{i.label}</span>
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
