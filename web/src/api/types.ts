/** The server's JSON as the app reads it (docs/api.md, the OpenAPI, and the issue-10 contract). */

export type EventKind = "ring" | "motion_start" | "motion_end";
export type MediaState = "pending" | "ready" | "failed" | "none" | "expired";

export interface ErrorBody {
  detail: string;
  parameter?: string;
  errors?: { field: string; problem: string }[];
  allowed?: unknown[];
  available?: { start_ms: number; end_ms: number } | null;
  state?: MediaState;
  server_time_ms?: number;
  /** Why WebRTC cannot start (WHEP's 503): camera_offline, too_many_viewers, webrtc_unavailable. */
  reason?: string;
}

/** GET /api/v1/webrtc: can the live view use WebRTC, and with which STUN/TURN servers. */
export interface WebRtcInfo {
  enabled: boolean;
  ice_servers: { urls: string | string[]; username?: string; credential?: string }[];
}

export interface Range {
  start_ms: number;
  end_ms: number;
}

export interface Buffer {
  start_ms: number | null;
  end_ms: number | null;
  seconds: number;
  bytes: number;
  segments: number;
}

export interface LastEvent {
  id: string;
  kind: EventKind;
  at_ms: number;
}

export interface Camera {
  id: string;
  name: string;
  online: boolean;
  buffer: Buffer;
  gaps: Range[];
  segmenter_restarts: number;
  /** When it last went online or offline (null before any change; absent on older servers). */
  since_ms?: number | null;
  last_event?: LastEvent | null;
}

export interface Media {
  state: MediaState;
  url: string | null;
  signed_url: string | null;
}

export interface Snapshot extends Media {
  at_ms: number | null;
}

export interface Clip extends Media {
  start_ms: number | null;
  end_ms: number | null;
  bytes: number | null;
}

export interface DoorbellEvent {
  id: string;
  camera: string;
  kind: EventKind;
  at_ms: number;
  received_ms: number;
  agent_at_ms: number;
  clock_offset_ms: number | null;
  score: number | null;
  box: [number, number, number, number] | null;
  ended_at_ms: number | null;
  snapshot: Snapshot;
  clip: Clip;
}

export interface Delivery {
  device_id: string | null;
  device_name: string;
  message: "alert" | "clip_ready";
  attempt: number;
  at_ms: number;
  outcome: string;
  message_id: string | null;
  error: string | null;
}

export interface EventDetail extends DoorbellEvent {
  deliveries: Delivery[];
}

export interface EventPage {
  events: DoorbellEvent[];
  next_cursor: string | null;
}

export interface Session {
  id: string;
  user: { name: string };
  csrf_token: string;
  expires_ms: number;
}

export interface SessionInfo {
  id: string;
  created_ms: number;
  last_seen_ms: number;
  expires_ms: number;
  user_agent: string | null;
  address: string | null;
  current: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  created_ms: number;
  last_used_ms: number | null;
}

export interface NewApiToken {
  id: string;
  name: string;
  created_ms: number;
  token: string;
}

export interface QuietHours {
  start: string;
  end: string;
  timezone: string;
}

export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface DeviceIn {
  platform: "web";
  web_push: WebPushSubscription;
  name: string;
  cameras: string[] | null;
  motion: boolean;
  quiet_hours: QuietHours | null;
}

export interface Device {
  id: string;
  platform: "android" | "ios" | "web";
  name: string;
  cameras: string[] | null;
  motion: boolean;
  quiet_hours: QuietHours | null;
  created_ms: number;
  updated_ms: number;
  channel?: "fcm" | "web_push";
}
