"""Operations endpoints: /healthz (each loop's progress) and /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.http.deps import BuffersDep, MetricsDep, PresenceDep, SupervisorDep

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness of every supervised loop and camera",
    responses={503: {"description": "a supervised loop died (same body)"}},
)
async def healthz(
    supervisor: SupervisorDep, buffers: BuffersDep, presence: PresenceDep
) -> JSONResponse:
    """200 while every supervised loop runs (or backs off to retry); 503 once one died.

    A camera that is offline is reported but is not unhealthy: doorbells get unplugged.
    """
    loops = [
        {
            "name": h.name,
            "state": h.state,
            "restarts": h.restarts,
            "last_error": h.last_error,
            "since_ms": h.since_ms,
        }
        for h in supervisor.health()
    ]
    cameras: dict[str, Any] = {}
    for camera_id, buffer in buffers.items():
        s = buffer.stats()
        cameras[camera_id] = {
            "online": presence.is_online(camera_id),
            "segmenter": s.state,
            "last_segment_age_ms": s.last_segment_age_ms,
            "segments": s.segments,
            "restarts": s.restarts,
            "last_exit": s.last_exit,
            "pid": s.pid,
        }
    healthy = supervisor.healthy
    body = {"status": "ok" if healthy else "unhealthy", "loops": loops, "cameras": cameras}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(series: MetricsDep) -> PlainTextResponse:
    text = "\n".join(series.render()) + "\n"
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
