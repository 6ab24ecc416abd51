/**
 * Save a clip: the last N seconds, or the range marked on the rewind scrubber; MP4 or ZIP;
 * downloaded with progress, then handed to the share sheet (so it lands in the phone's
 * gallery) where the browser can share files, else saved as a download.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, isAbort, mediaUrls } from "../api/client";
import { ApiError, describeError, formatWait } from "../api/errors";
import type { Buffer } from "../api/types";
import { bufferSeconds, checkLast, checkRange, clipFileName, clipQuery, defaultSeconds, type ClipFormat, type ClipRequest } from "../lib/clip";
import { formatBytes, percent, readWithProgress, type Progress } from "../lib/download";
import { DownloadIcon, ShareIcon } from "./icons";

type Phase =
  | { kind: "idle" }
  | { kind: "downloading"; progress: Progress }
  | { kind: "done"; file: File; url: string; canShare: boolean }
  | { kind: "error"; message: string; retryAfterS: number | null };

const PRESETS = [10, 30, 60, 300];

export function ClipPanel(props: {
  camera: string;
  buffer: Buffer | null;
  /** Rewind: the marked range (ms), when both ends are marked. */
  range?: { startMs: number | null; endMs: number | null } | null;
}): JSX.Element {
  // Until the user picks: 30 s, or all the buffer holds when it holds less (a young buffer).
  const [picked, setSeconds] = useState<string | null>(null);
  const [format, setFormat] = useState<ClipFormat>("mp4");
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const abort = useRef<AbortController | null>(null);
  const useRange = props.range !== undefined && props.range !== null;
  const id = `clip-${props.camera}`;

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => () => (phase.kind === "done" ? URL.revokeObjectURL(phase.url) : undefined), [phase]);

  const buffer = props.buffer ?? { start_ms: null, end_ms: null };
  const seconds = picked ?? String(defaultSeconds(bufferSeconds(buffer)));
  const check = useRange
    ? checkRange(props.range?.startMs ?? null, props.range?.endMs ?? null, buffer, format)
    : checkLast(Number(seconds), buffer, format);

  const start = async (request: ClipRequest): Promise<void> => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setPhase({ kind: "downloading", progress: { received: 0, total: null } });
    try {
      const response = await api.raw("GET", mediaUrls.clip(props.camera), {
        query: clipQuery(request),
        signal: controller.signal,
        accept: "*/*",
      });
      const blob = await readWithProgress(response, (progress) => setPhase({ kind: "downloading", progress }), controller.signal);
      const name = clipFileName(response.headers.get("Content-Disposition"), props.camera, request.format, Date.now());
      const file = new File([blob], name, { type: blob.type || (request.format === "zip" ? "application/zip" : "video/mp4") });
      const canShare = typeof navigator.canShare === "function" && navigator.canShare({ files: [file] });
      const url = URL.createObjectURL(file);
      setPhase({ kind: "done", file, url, canShare });
      if (!canShare) saveAs(url, name);
    } catch (error) {
      if (isAbort(error)) {
        setPhase({ kind: "idle" });
        return;
      }
      setPhase({ kind: "error", message: clipError(error), retryAfterS: error instanceof ApiError ? error.retryAfterS : null });
    }
  };

  const share = async (file: File): Promise<void> => {
    try {
      await navigator.share({ files: [file], title: file.name });
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "AbortError")) {
        setPhase({ kind: "error", message: "Sharing did not work; use Download instead.", retryAfterS: null });
      }
    }
  };

  const max = bufferSeconds(buffer);
  return (
    <section class="card clip-panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Save a clip</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (check.ok) void start(check.request);
        }}
      >
        {useRange ? (
          <p class="muted">{check.ok ? "The marked part of the recording." : check.problem}</p>
        ) : (
          <fieldset class="presets">
            <legend>The last</legend>
            <div class="chips">
              {PRESETS.map((p) => (
                <button
                  type="button"
                  class={`chip ${Number(seconds) === p ? "selected" : ""}`}
                  aria-pressed={Number(seconds) === p}
                  disabled={p > max}
                  onClick={() => setSeconds(String(p))}
                >
                  {p < 60 ? `${p} s` : `${p / 60} min`}
                </button>
              ))}
            </div>
            <label class="field inline">
              <span>Seconds</span>
              <input
                type="number"
                inputMode="numeric"
                min={1}
                max={Math.max(1, max)}
                step={1}
                value={seconds}
                onInput={(e) => setSeconds((e.target as HTMLInputElement).value)}
                aria-describedby={`${id}-hint`}
              />
            </label>
            <p id={`${id}-hint`} class="hint">
              {max > 0 ? `Up to ${max} s (what the buffer holds now).` : "Nothing recorded yet."}
            </p>
          </fieldset>
        )}
        <div class="row wrap">
          <label class="field inline">
            <span>Format</span>
            <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as ClipFormat)}>
              <option value="mp4">MP4 video</option>
              <option value="zip">ZIP of segments</option>
            </select>
          </label>
          {phase.kind === "downloading" ? (
            <button type="button" class="btn" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          ) : (
            <button type="submit" class="btn primary" disabled={!check.ok}>
              <DownloadIcon size={18} /> Save clip
            </button>
          )}
        </div>
        {!useRange && !check.ok && seconds !== "" && <p class="error-text">{check.problem}</p>}
      </form>
      <div aria-live="polite">
        {phase.kind === "downloading" && <DownloadProgress progress={phase.progress} />}
        {phase.kind === "done" && (
          <div class="clip-done">
            <p>
              Ready: <strong>{phase.file.name}</strong> ({formatBytes(phase.file.size)})
            </p>
            <div class="row wrap">
              {phase.canShare && (
                <button type="button" class="btn primary" onClick={() => void share(phase.file)}>
                  <ShareIcon size={18} /> Save to phone
                </button>
              )}
              <a class="btn" href={phase.url} download={phase.file.name}>
                <DownloadIcon size={18} /> Download
              </a>
            </div>
          </div>
        )}
        {phase.kind === "error" && (
          <div class="notice error" role="alert">
            <p>{phase.message}</p>
            {check.ok && (
              <button type="button" class="btn small" onClick={() => void start(check.request)}>
                Try again{phase.retryAfterS ? ` (after ${formatWait(phase.retryAfterS)})` : ""}
              </button>
            )}
          </div>
        )}
      </div>
    </section>
  );
}

function DownloadProgress({ progress }: { progress: Progress }): JSX.Element {
  const pct = percent(progress);
  return (
    <div class="progress-block">
      <progress max={100} value={pct ?? undefined} aria-label="Clip download" />
      <span class="muted">
        {pct === null ? `Downloading… ${formatBytes(progress.received)}` : `Downloading… ${pct}% of ${formatBytes(progress.total ?? 0)}`}
      </span>
    </div>
  );
}

function clipError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 416) return "Nothing was recorded in that time. Choose a part of the buffer that has video.";
    if (error.status === 503) return `The server is busy making other clips${error.retryAfterS ? `; try again in ${formatWait(error.retryAfterS)}` : "; try again shortly"}.`;
  }
  return describeError(error);
}

function saveAs(url: string, name: string): void {
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
}
