"""Operations endpoints: /healthz (each loop's progress) and /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.routes.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness of every supervised loop and camera")
async def healthz(services: ServicesDep) -> JSONResponse:
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
        for h in services.supervisor.health()
    ]
    cameras: dict[str, Any] = {}
    for camera_id, buffer in services.buffers.items():
        s = buffer.stats()
        cameras[camera_id] = {
            "online": services.is_online(camera_id),
            "segmenter": s.state,
            "last_segment_age_ms": s.last_segment_age_ms,
            "segments": s.segments,
            "restarts": s.restarts,
            "last_exit": s.last_exit,
            "pid": s.pid,
        }
    healthy = services.supervisor.healthy
    body = {"status": "ok" if healthy else "unhealthy", "loops": loops, "cameras": cameras}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    lines = [
        "# HELP doorbell_buffer_seconds Seconds of video in the rolling buffer.",
        "# TYPE doorbell_buffer_seconds gauge",
    ]
    stats = [b.stats() for b in services.buffers.values()]
    lines += [f'doorbell_buffer_seconds{{camera="{s.camera}"}} {s.seconds:.3f}' for s in stats]
    lines += [
        "# HELP doorbell_buffer_bytes Bytes of video in the rolling buffer.",
        "# TYPE doorbell_buffer_bytes gauge",
    ]
    lines += [f'doorbell_buffer_bytes{{camera="{s.camera}"}} {s.bytes}' for s in stats]
    lines += [
        "# HELP doorbell_segmenter_restarts_total ffmpeg sessions that ended and were restarted.",
        "# TYPE doorbell_segmenter_restarts_total counter",
    ]
    lines += [
        f'doorbell_segmenter_restarts_total{{camera="{s.camera}"}} {s.restarts}' for s in stats
    ]
    lines += [
        "# HELP doorbell_camera_online 1 while the camera publishes.",
        "# TYPE doorbell_camera_online gauge",
    ]
    lines += [
        f'doorbell_camera_online{{camera="{s.camera}"}} {int(services.is_online(s.camera))}'
        for s in stats
    ]
    lines += [
        "# HELP doorbell_loop_up 1 unless the supervised loop died.",
        "# TYPE doorbell_loop_up gauge",
    ]
    lines += [
        f'doorbell_loop_up{{loop="{h.name}"}} {int(h.state != "dead")}'
        for h in services.supervisor.health()
    ]
    clips = services.clips.stats()
    lines += [
        "# HELP doorbell_clip_assemblies_total Clip assemblies (not cache hits or shared waits).",
        "# TYPE doorbell_clip_assemblies_total counter",
        f"doorbell_clip_assemblies_total {clips['assemblies']}",
        "# HELP doorbell_clip_running Clip assemblies running now.",
        "# TYPE doorbell_clip_running gauge",
        f"doorbell_clip_running {clips['running']}",
        "# HELP doorbell_clip_running_peak Most clip assemblies ever running at once.",
        "# TYPE doorbell_clip_running_peak gauge",
        f"doorbell_clip_running_peak {clips['peak_running']}",
        "# HELP doorbell_clip_waiting Clip requests waiting for an assembly slot.",
        "# TYPE doorbell_clip_waiting gauge",
        f"doorbell_clip_waiting {clips['waiting']}",
        "# HELP doorbell_event_recordings Event snapshots and clips being made now.",
        "# TYPE doorbell_event_recordings gauge",
        f"doorbell_event_recordings {services.recorder.active}",
        "# HELP doorbell_push_queue Push jobs waiting or being sent.",
        "# TYPE doorbell_push_queue gauge",
    ]
    push = services.dispatcher.stats()
    lines += [f'doorbell_push_queue{{state="{k}"}} {v}' for k, v in sorted(push.items())]
    lines += list(services.metrics.render())
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
