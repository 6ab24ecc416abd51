"""/api/v1/cameras: each camera's identity, online state and rolling-buffer coverage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.config import CameraSettings
from api.http.deps import BufferDep, BuffersDep, PresenceDep, SettingsDep
from api.http.handlers import error_responses
from api.relay.presence import Presence
from api.video.ports import CameraBuffer

router = APIRouter(prefix="/cameras", tags=["cameras"])


class GapOut(BaseModel):
    start_ms: int = Field(description="last video before the gap (UTC epoch ms)")
    end_ms: int = Field(description="first video after the gap (UTC epoch ms)")


class BufferOut(BaseModel):
    start_ms: int | None = Field(description="oldest video held (UTC epoch ms)")
    end_ms: int | None = Field(description="newest video held (UTC epoch ms)")
    seconds: float = Field(description="seconds of video held (gaps excluded)")
    bytes: int
    segments: int


class CameraOut(BaseModel):
    id: str
    name: str
    online: bool = Field(
        description="publishing now: the relay accepted a publisher, or segments are arriving"
    )
    buffer: BufferOut
    gaps: list[GapOut] = Field(description="stretches without video inside the buffer")
    segmenter_restarts: int


def _camera_out(camera: CameraSettings, buffer: CameraBuffer[Any], presence: Presence) -> CameraOut:
    s = buffer.stats()
    return CameraOut(
        id=camera.id,
        name=camera.display_name,
        online=presence.is_online(camera.id),
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
    settings: SettingsDep, buffers: BuffersDep, presence: PresenceDep
) -> list[CameraOut]:
    return [_camera_out(c, buffers[c.id], presence) for c in settings.cameras]


@router.get("/{camera_id}", summary="One camera", responses=error_responses(404))
async def get_camera(
    camera_id: str, buffer: BufferDep, settings: SettingsDep, presence: PresenceDep
) -> CameraOut:
    camera = settings.camera(camera_id)
    assert camera is not None  # BufferDep found its buffer: it is configured
    return _camera_out(camera, buffer, presence)
