/** Settings: theme, notifications for this device, sessions, API tokens, password, sign out. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { ApiToken, NewApiToken, SessionInfo } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { PageHeader } from "../components/Page";
import {
  base64UrlToBytes,
  browserPushSupport,
  deviceName,
  loadStoredPush,
  quietHours,
  saveStoredPush,
  type PushChoices,
  type StoredPush,
} from "../lib/push";
import { setTheme, storedTheme, type Theme } from "../lib/theme";
import { ago, dateTime, localTimeZone } from "../lib/time";
import { useApp } from "../state/app";

export function Settings(): JSX.Element {
  const { user, signOut } = useApp();
  return (
    <main id="main" class="settings">
      <PageHeader title="Settings" sub={user ? <>Signed in as {user}</> : undefined} />
      <div class="settings-grid">
        <ThemeSection />
        <NotificationsSection />
        <SessionsSection />
        <TokensSection />
        <PasswordSection />
        <section class="card" aria-labelledby="signout-title">
          <h2 id="signout-title">Sign out</h2>
          <p class="muted">Ends this session on this device.</p>
          <button type="button" class="btn" onClick={() => void signOut()}>
            Sign out
          </button>
        </section>
      </div>
    </main>
  );
}

function ThemeSection(): JSX.Element {
  const [theme, setState] = useState<Theme>(storedTheme());
  return (
    <section class="card" aria-labelledby="theme-title">
      <h2 id="theme-title">Appearance</h2>
      <fieldset class="radio-row">
        <legend>Theme</legend>
        {(["system", "light", "dark"] as const).map((t) => (
          <label class="radio" key={t}>
            <input
              type="radio"
              name="theme"
              value={t}
              checked={theme === t}
              onChange={() => {
                setTheme(t);
                setState(t);
              }}
            />
            {t === "system" ? "Like the system" : t === "light" ? "Light" : "Dark"}
          </label>
        ))}
      </fieldset>
    </section>
  );
}

function NotificationsSection(): JSX.Element {
  const { cameras } = useApp();
  const support = browserPushSupport();
  const [stored, setStored] = useState<StoredPush | null>(loadStoredPush());
  const [choices, setChoices] = useState<PushChoices>(stored ?? { cameras: null, motion: false, quiet: null });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [permission, setPermission] = useState<string>(typeof Notification === "undefined" ? "default" : Notification.permission);

  const register = async (permissionAsked: Promise<NotificationPermission> | null): Promise<void> => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      if (permissionAsked) {
        const p = await permissionAsked;
        setPermission(p);
        if (p !== "granted") {
          setError(p === "denied" ? "Notifications are blocked for this site. Allow them in the browser's site settings, then try again." : "Notifications were not allowed.");
          return;
        }
      }
      const reg = await navigator.serviceWorker.ready;
      let sub = await reg.pushManager.getSubscription();
      if (!sub) {
        const { public_key } = await api.webPushKey();
        sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(public_key) as BufferSource });
      }
      const json = sub.toJSON();
      const device = await api.registerDevice({
        platform: "web",
        web_push: { endpoint: sub.endpoint, keys: { p256dh: json.keys?.p256dh ?? "", auth: json.keys?.auth ?? "" } },
        name: deviceName(navigator.userAgent),
        cameras: choices.cameras,
        motion: choices.motion,
        quiet_hours: quietHours(choices, localTimeZone()),
      });
      const next = { ...choices, deviceId: device.id };
      saveStoredPush(next);
      setStored(next);
      setSaved(true);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.detail.includes("/push/web")) setError("This server does not offer Web Push.");
      else setError(e instanceof DOMException ? `The browser could not subscribe: ${e.message}` : describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const turnOff = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const reg = await navigator.serviceWorker.ready;
      await (await reg.pushManager.getSubscription())?.unsubscribe();
      if (stored) await api.deleteDevice(stored.deviceId).catch((e: unknown) => {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      });
      saveStoredPush(null);
      setStored(null);
      setSaved(false);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const allCameras = choices.cameras === null;
  const toggleCamera = (id: string, on: boolean): void => {
    const current = choices.cameras ?? cameras?.map((c) => c.id) ?? [];
    const next = on ? [...new Set([...current, id])] : current.filter((c) => c !== id);
    setChoices({ ...choices, cameras: cameras && next.length === cameras.length ? null : next });
  };

  return (
    <section class="card" aria-labelledby="push-title">
      <h2 id="push-title">Notifications on this device</h2>
      {support === "insecure" && (
        <p class="muted">Notifications need the app opened over HTTPS (or on this machine as localhost).</p>
      )}
      {support === "ios-home-screen" && (
        <p class="muted">
          On iPhone and iPad, add Doorbell to the Home Screen first (Share, then “Add to Home Screen”), open it from there, and turn
          notifications on here.
        </p>
      )}
      {support === "unsupported" && <p class="muted">This browser cannot receive Web Push notifications.</p>}
      {support === "ok" && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            // Ask for permission right in the tap (Safari requires it), before anything awaits.
            const asked = permission === "granted" ? null : Notification.requestPermission();
            void register(asked);
          }}
        >
          <p class="muted">
            {stored ? "On: this device is told about rings" + (choices.motion ? " and motion." : ".") : "Off: this device gets no notifications."}
          </p>
          <fieldset>
            <legend>Cameras</legend>
            <label class="check">
              <input type="checkbox" checked={allCameras} onChange={(e) => setChoices({ ...choices, cameras: (e.target as HTMLInputElement).checked ? null : [] })} />
              All cameras
            </label>
            {!allCameras &&
              cameras?.map((c) => (
                <label class="check" key={c.id}>
                  <input
                    type="checkbox"
                    checked={choices.cameras?.includes(c.id) ?? false}
                    onChange={(e) => toggleCamera(c.id, (e.target as HTMLInputElement).checked)}
                  />
                  {c.name}
                </label>
              ))}
          </fieldset>
          <label class="check">
            <input type="checkbox" checked={choices.motion} onChange={(e) => setChoices({ ...choices, motion: (e.target as HTMLInputElement).checked })} />
            Motion too (rings always notify)
          </label>
          <fieldset>
            <legend>Quiet hours for motion</legend>
            <label class="check">
              <input
                type="checkbox"
                checked={choices.quiet !== null}
                onChange={(e) => setChoices({ ...choices, quiet: (e.target as HTMLInputElement).checked ? { start: "22:00", end: "07:00" } : null })}
              />
              No motion notifications at night
            </label>
            {choices.quiet && (
              <div class="row wrap">
                <label class="field inline">
                  <span>From</span>
                  <input
                    type="time"
                    value={choices.quiet.start}
                    required
                    onInput={(e) => setChoices({ ...choices, quiet: { start: (e.target as HTMLInputElement).value, end: choices.quiet?.end ?? "07:00" } })}
                  />
                </label>
                <label class="field inline">
                  <span>To</span>
                  <input
                    type="time"
                    value={choices.quiet.end}
                    required
                    onInput={(e) => setChoices({ ...choices, quiet: { start: choices.quiet?.start ?? "22:00", end: (e.target as HTMLInputElement).value } })}
                  />
                </label>
                <span class="hint">Time zone: {localTimeZone()}</span>
              </div>
            )}
          </fieldset>
          <div class="row wrap">
            <button type="submit" class="btn primary" disabled={busy}>
              {stored ? "Save choices" : "Turn on notifications"}
            </button>
            {stored && (
              <button type="button" class="btn" disabled={busy} onClick={() => void turnOff()}>
                Turn off
              </button>
            )}
          </div>
          <div aria-live="polite">
            {saved && <p class="ok-text">Saved. This device will be notified.</p>}
            {error && (
              <p class="notice error" role="alert">
                {error}
              </p>
            )}
          </div>
        </form>
      )}
    </section>
  );
}

function SessionsSection(): JSX.Element {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = (): void =>
    void api
      .sessions()
      .then((r) => (setSessions(r.sessions), setError(null)))
      .catch(setError);
  useEffect(load, []);
  const tz = localTimeZone();
  return (
    <section class="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you are signed in</h2>
      {error !== null && <p class="notice error">{unavailable(error)}</p>}
      {sessions === null && error === null && <p class="muted">Loading…</p>}
      <ul class="item-list" role="list">
        {sessions?.map((s) => (
          <li key={s.id}>
            <div>
              <strong>{s.user_agent ? deviceName(s.user_agent) : "Unknown device"}</strong>
              {s.current && <span class="tag">This device</span>}
              <div class="muted small">
                {s.address ?? ""} · last seen {ago(s.last_seen_ms, Date.now())} · signed in {dateTime(s.created_ms, tz)}
              </div>
            </div>
            {!s.current && (
              <button
                type="button"
                class="btn small"
                onClick={() =>
                  void api
                    .revokeSession(s.id)
                    .then(load)
                    .catch(setError)
                }
              >
                Sign out
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function TokensSection(): JSX.Element {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<NewApiToken | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [copied, setCopied] = useState(false);
  const load = (): void =>
    void api
      .tokens()
      .then((r) => (setTokens(r.tokens), setError(null)))
      .catch(setError);
  useEffect(load, []);

  return (
    <section class="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p class="muted">For scripts and other apps (sent as “Authorization: Bearer …”).</p>
      {error !== null && <p class="notice error">{unavailable(error)}</p>}
      <ul class="item-list" role="list">
        {tokens?.map((t) => (
          <li key={t.id}>
            <div>
              <strong>{t.name}</strong>
              <div class="muted small">
                created {ago(t.created_ms, Date.now())} · {t.last_used_ms ? `last used ${ago(t.last_used_ms, Date.now())}` : "never used"}
              </div>
            </div>
            <button type="button" class="btn small" onClick={() => setRevoking(t)}>
              Revoke
            </button>
          </li>
        ))}
        {tokens?.length === 0 && <li class="muted">No tokens.</li>}
      </ul>
      <form
        class="row wrap end-align"
        onSubmit={(e) => {
          e.preventDefault();
          setCopied(false);
          void api
            .createToken(name.trim())
            .then((t) => (setCreated(t), setName(""), load()))
            .catch(setError);
        }}
      >
        <label class="field grow">
          <span>New token's name</span>
          <input value={name} required maxLength={100} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn">
          Create token
        </button>
      </form>
      {created && (
        <div class="notice" role="status">
          <p>
            Token “{created.name}”: copy it now, it is not shown again.
          </p>
          <code class="secret">{created.token}</code>
          <div class="row">
            <button
              type="button"
              class="btn small"
              onClick={() => void navigator.clipboard?.writeText(created.token).then(() => setCopied(true))}
            >
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" class="btn small ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        message="Scripts and apps using it stop working at once."
        confirm="Revoke"
        danger
        onConfirm={() => {
          const t = revoking;
          setRevoking(null);
          if (t) void api.revokeToken(t.id).then(load).catch(setError);
        }}
        onCancel={() => setRevoking(null)}
      />
    </section>
  );
}

function PasswordSection(): JSX.Element {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (next !== again) {
            setMessage({ ok: false, text: "The two new passwords differ." });
            return;
          }
          setBusy(true);
          api
            .changePassword(current, next)
            .then(() => {
              setMessage({ ok: true, text: "Password changed. Every other session was signed out." });
              setCurrent("");
              setNext("");
              setAgain("");
            })
            .catch((err: unknown) =>
              setMessage({
                ok: false,
                text: err instanceof ApiError && err.status === 403 ? "The current password is wrong." : describeError(err),
              }),
            )
            .finally(() => setBusy(false));
        }}
      >
        <label class="field">
          <span>Current password</span>
          <input type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          <span>New password</span>
          <input
            type="password"
            autoComplete="new-password"
            required
            aria-describedby="pw-hint"
            value={next}
            onInput={(e) => setNext((e.target as HTMLInputElement).value)}
          />
        </label>
        <p id="pw-hint" class="hint">
          At least 10 characters.
        </p>
        <label class="field">
          <span>New password again</span>
          <input type="password" autoComplete="new-password" required value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn primary" disabled={busy}>
          Change password
        </button>
        <div aria-live="polite">{message && <p class={message.ok ? "ok-text" : "notice error"}>{message.text}</p>}</div>
      </form>
    </section>
  );
}

/** A 404 from a server without accounts says so in words. */
function unavailable(error: unknown): string {
  return error instanceof ApiError && error.status === 404 ? "This server does not offer this yet." : describeError(error);
}
