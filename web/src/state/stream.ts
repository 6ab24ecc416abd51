/**
 * The live notices (`GET /api/v1/events/stream`) shared by every screen: one EventSource,
 * reconnected with backoff, a re-read ("overflow") after any reconnect since notices may have
 * been missed in between.
 */
import { mediaUrls } from "../api/client";
import { NOTICE_TYPES, parseNotice, type Notice } from "../lib/live-events";
import { backoff } from "../lib/recovery";

export type StreamStatus = "idle" | "connecting" | "open" | "reconnecting";

type NoticeListener = (notice: Notice) => void;
type StatusListener = (status: StreamStatus) => void;

export class EventStream {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private everOpened = false;
  private readonly noticeListeners = new Set<NoticeListener>();
  private readonly statusListeners = new Set<StatusListener>();
  status: StreamStatus = "idle";
  /** Called when the stream failed: the app checks whether the session ended. */
  onTrouble: (() => void) | undefined;

  start(): void {
    if (this.source || this.timer) return;
    this.connect();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
    this.everOpened = false;
    this.failures = 0;
    this.setStatus("idle");
  }

  onNotice(listener: NoticeListener): () => void {
    this.noticeListeners.add(listener);
    return () => void this.noticeListeners.delete(listener);
  }

  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    return () => void this.statusListeners.delete(listener);
  }

  /** Try now (the network came back, the app became visible). */
  kick(): void {
    if (this.status === "reconnecting" && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.connect();
    }
  }

  private connect(): void {
    this.setStatus(this.everOpened ? "reconnecting" : "connecting");
    const source = new EventSource(mediaUrls.eventStream());
    this.source = source;
    source.onopen = () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.failures = 0;
      this.setStatus("open");
      if (reconnected) this.emit({ type: "overflow" }); // anything in between was missed
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CONNECTING) {
        this.setStatus("reconnecting"); // the browser retries by itself (retry: 3000)
        return;
      }
      // CLOSED: an HTTP error (401, 503) or a wrong answer; the browser gave up. We do not.
      source.close();
      this.source = null;
      this.setStatus("reconnecting");
      this.onTrouble?.();
      this.everOpened = true;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.connect();
      }, backoff(this.failures++ + 1));
    };
    for (const type of NOTICE_TYPES) {
      source.addEventListener(type, (e) => {
        const notice = parseNotice(type, (e as MessageEvent<string>).data);
        if (notice) this.emit(notice);
      });
    }
  }

  private emit(notice: Notice): void {
    this.noticeListeners.forEach((l) => l(notice));
  }

  private setStatus(status: StreamStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.statusListeners.forEach((l) => l(status));
  }
}

export const stream = new EventStream();
