"""/api/v1/cameras: each camera's identity, online state and rolling-buffer coverage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.config import CameraSettings
from api.events.history import EventHistory
from api.http.deps import (
    AuthFirstRoute,
    BufferDep,
    BuffersDep,
    HistoryDep,
    PresenceDep,
    SettingsDep,
)
from api.http.handlers import error_responses
from api.relay.presence import Presence
from api.video.ports import CameraBuffer
from common.events import EventKind

router = APIRouter(prefix="/cameras", tags=["cameras"], route_class=AuthFirstRoute)


class GapOut(BaseModel):
    start_ms: int = Field(description="last video before the gap (UTC epoch ms)")
    end_ms: int = Field(description="first video after the gap (UTC epoch ms)")


class BufferOut(BaseModel):
    start_ms: int | None = Field(description="oldest video held (UTC epoch ms)")
    end_ms: int | None = Field(description="newest video held (UTC epoch ms)")
    seconds: float = Field(description="seconds of video held (gaps excluded)")
    bytes: int
    segments: int


class LastEventOut(BaseModel):
    id: str
    kind: EventKind
    at_ms: int


class CameraOut(BaseModel):
    id: str
    name: str
    online: bool = Field(
        description="publishing now: the relay accepted a publisher, or segments are arriving"
    )
    since_ms: int | None = Field(
        description="when the camera went online or offline, as far as this server knows "
        "(offline: its publisher left, else its last video); null when unknown"
    )
    last_event: LastEventOut | None = Field(description="the camera's newest event")
    buffer: BufferOut
    gaps: list[GapOut] = Field(description="stretches without video inside the buffer")
    segmenter_restarts: int


async def _camera_out(
    camera: CameraSettings, buffer: CameraBuffer[Any], presence: Presence, history: EventHistory
) -> CameraOut:
    s = buffer.stats()
    last = await history.latest(camera.id)
    return CameraOut(
        id=camera.id,
        name=camera.display_name,
        online=presence.is_online(camera.id),
        since_ms=presence.since_ms(camera.id),
        last_event=None
        if last is None
        else LastEventOut(id=last.id, kind=last.kind, at_ms=last.at_ms),
        buffer=BufferOut(
            start_ms=s.oldest_ms,
            end_ms=s.newest_ms,
            seconds=s.seconds,
            bytes=s.bytes,
            segments=s.segments,
        ),
        gaps=[GapOut(start_ms=g.start_ms, end_ms=g.end_ms) for g in s.gaps],
        segmenter_restarts=s.restarts,
    )


@router.get("", summary="All cameras")
async def list_cameras(
    settings: SettingsDep, buffers: BuffersDep, presence: PresenceDep, history: HistoryDep
) -> list[CameraOut]:
    return [await _camera_out(c, buffers[c.id], presence, history) for c in settings.cameras]


@router.get("/{camera_id}", summary="One camera", responses=error_responses(404))
async def get_camera(
    camera_id: str,
    buffer: BufferDep,
    settings: SettingsDep,
    presence: PresenceDep,
    history: HistoryDep,
) -> CameraOut:
    camera = settings.camera(camera_id)
    assert camera is not None  # BufferDep found its buffer: it is configured
    return await _camera_out(camera, buffer, presence, history)
