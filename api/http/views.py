"""How events, devices and deliveries look on the wire (JSON), with signed media URLs for
players and image views that cannot send a bearer token."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.events.model import (
    Channel,
    DeliveryRecord,
    DeviceRecord,
    EventRecord,
    MediaState,
    MessageKind,
    Platform,
    PushOutcome,
    QuietHours,
)
from api.http.signing import UrlSigner
from common.events import EventKind


class MediaOut(BaseModel):
    state: MediaState = Field(
        description="pending (being made), ready, failed (no video then), error (the file "
        "could not be written, e.g. disk full; retried while the video is held), none (this "
        "kind has none), expired (removed by retention)"
    )
    url: str | None = Field(default=None, description="with the bearer token")
    signed_url: str | None = Field(default=None, description="without a token, until it expires")


class SnapshotOut(MediaOut):
    at_ms: int | None = Field(default=None, description="time of the frame shown")


class ClipOut(MediaOut):
    start_ms: int | None = None
    end_ms: int | None = None
    bytes: int | None = None


class EventOut(BaseModel):
    id: str
    camera: str
    kind: EventKind
    at_ms: int = Field(description="when it happened, server clock (UTC epoch ms)")
    received_ms: int
    agent_at_ms: int = Field(description="as the doorbell reported it, on its own clock")
    clock_offset_ms: int | None
    score: float | None = None
    box: tuple[float, float, float, float] | None = None
    ended_at_ms: int | None = Field(default=None, description="motion_start: when motion ended")
    snapshot: SnapshotOut
    clip: ClipOut


def event_out(event: EventRecord, signer: UrlSigner) -> EventOut:
    base = f"/api/v1/events/{event.id}"
    exp = signer.expiry()

    def urls(path: str, state: MediaState) -> dict[str, str | None]:
        if state not in {"ready", "pending"}:
            return {"url": None, "signed_url": None}
        return {"url": path, "signed_url": signer.sign(path, exp=exp)}

    return EventOut(
        id=event.id,
        camera=event.camera,
        kind=event.kind,
        at_ms=event.at_ms,
        received_ms=event.received_ms,
        agent_at_ms=event.agent_at_ms,
        clock_offset_ms=event.clock_offset_ms,
        score=event.score,
        box=event.box,
        ended_at_ms=event.ended_at_ms,
        snapshot=SnapshotOut(
            state=event.snapshot_state,
            at_ms=event.snapshot_at_ms,
            **urls(f"{base}/snapshot.jpg", event.snapshot_state),
        ),
        clip=ClipOut(
            state=event.clip_state,
            start_ms=event.clip_start_ms,
            end_ms=event.clip_end_ms,
            bytes=event.clip_bytes,
            **urls(f"{base}/clip.mp4", "ready" if event.clip_state == "ready" else "none"),
        ),
    )


class DeliveryOut(BaseModel):
    device_id: str | None
    device_name: str
    message: MessageKind
    attempt: int
    at_ms: int
    outcome: PushOutcome
    message_id: str | None = None
    error: str | None = None


def delivery_out(record: DeliveryRecord) -> DeliveryOut:
    return DeliveryOut(
        device_id=record.device_id,
        device_name=record.device_name,
        message=record.message,
        attempt=record.attempt,
        at_ms=record.at_ms,
        outcome=record.outcome,
        message_id=record.message_id,
        error=record.error,
    )


class QuietHoursModel(BaseModel):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local")
    timezone: str = Field(description="IANA time zone of the device, e.g. Europe/Berlin")


class DeviceOut(BaseModel):
    id: str
    platform: Platform
    channel: Channel = Field(
        description="how pushes reach it: fcm (a registration token) or web_push (a browser's "
        "Web Push subscription)"
    )
    name: str
    token_suffix: str = Field(
        description="the last characters of the FCM token or of the Web Push endpoint"
    )
    cameras: list[str] | None = Field(description="cameras pushed; null: all")
    motion: bool
    quiet_hours: QuietHoursModel | None
    created_ms: int
    updated_ms: int


def device_out(device: DeviceRecord) -> DeviceOut:
    quiet = device.quiet_hours
    return DeviceOut(
        id=device.id,
        platform=device.platform,
        channel=device.channel,
        name=device.name,
        token_suffix=device.token[-8:],
        cameras=None if device.cameras is None else list(device.cameras),
        motion=device.motion,
        quiet_hours=None if quiet is None else QuietHoursModel(**_quiet(quiet)),
        created_ms=device.created_ms,
        updated_ms=device.updated_ms,
    )


def _quiet(quiet: QuietHours) -> dict[str, str]:
    return {"start": quiet.start, "end": quiet.end, "timezone": quiet.timezone}
