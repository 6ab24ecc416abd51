/** Sign in with a username and password (the server sets the session cookie). */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api/client";
import { ApiError, NetworkError, describeError } from "../api/errors";
import type { Session } from "../api/types";
import { Logo } from "../components/Logo";

export function SignIn(props: { onSignedIn: (session: Session) => void }): JSX.Element {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());
  const errorRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    document.title = "Sign in · Doorbell";
  }, []);

  useEffect(() => {
    if (waitUntil === null) return;
    const t = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= waitUntil) setWaitUntil(null);
    }, 1000);
    return () => clearInterval(t);
  }, [waitUntil]);

  const wait = waitUntil === null ? 0 : Math.max(0, Math.ceil((waitUntil - now) / 1000));

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (busy || wait > 0) return;
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await api.signIn(username.trim(), password));
    } catch (err) {
      setPassword("");
      if (err instanceof ApiError && err.status === 401) setError("Wrong username or password.");
      else if (err instanceof ApiError && err.status === 429) {
        const s = err.retryAfterS ?? 30;
        setWaitUntil(Date.now() + s * 1000);
        setNow(Date.now());
        setError("Too many failed sign-ins.");
      } else if (err instanceof NetworkError) setError("The server cannot be reached. Check that this device is on the right network.");
      else setError(describeError(err));
      queueMicrotask(() => errorRef.current?.focus());
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <div class="sign-in__card card">
        <div class="sign-in__brand">
          <Logo size={56} />
          <h1>Sign in to Doorbell</h1>
        </div>
        <form onSubmit={(e) => void submit(e)} noValidate={false}>
          <label class="field">
            <span>Username</span>
            <input
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellcheck={false}
              required
              value={username}
              onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
            />
          </label>
          <label class="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </label>
          {error && (
            <div class="notice error" role="alert" tabIndex={-1} ref={errorRef}>
              {error}
              {wait > 0 && <> Try again in {wait} s.</>}
            </div>
          )}
          <button type="submit" class="btn primary block" disabled={busy || wait > 0}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}
