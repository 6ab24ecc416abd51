"""/api/v1/cameras: each camera's identity, online state and rolling-buffer coverage."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.routes.deps import ServicesDep
from api.services import Services

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


def _camera_out(services: Services, camera_id: str) -> CameraOut:
    camera = services.camera(camera_id)
    s = services.buffers[camera_id].stats()
    return CameraOut(
        id=camera.id,
        name=camera.display_name,
        online=services.is_online(camera.id),
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
async def list_cameras(services: ServicesDep) -> list[CameraOut]:
    return [_camera_out(services, c.id) for c in services.settings.cameras]


@router.get(
    "/{camera_id}", summary="One camera", responses={404: {"description": "unknown camera"}}
)
async def get_camera(camera_id: str, services: ServicesDep) -> CameraOut:
    return _camera_out(services, camera_id)
