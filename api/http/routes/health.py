"""Operations endpoints: /healthz (each loop's progress) and /metrics (Prometheus text).

Both tell a stranger nothing: /healthz answers only `{"status": ...}` without credentials,
and its details (loops, cameras, this process) need a bearer token of `Settings.ops_tokens`
(the service tokens and `ops.metrics_token`), as /metrics always does: its counters show
every ring and motion as it happens.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthorized
from api.http.auth import matches_any
from api.http.deps import (
    BuffersDep,
    LiveViewDep,
    MetricsDep,
    PresenceDep,
    SettingsDep,
    SupervisorDep,
)
from api.http.handlers import error_responses

router = APIRouter(tags=["operations"])
ERROR_OUT = "#/components/schemas/ErrorOut"  # declared by the other routes' error answers

ops_bearer = HTTPBearer(
    scheme_name="OperationsToken",
    auto_error=False,
    description="a service token (api_tokens) or the metrics token (ops.metrics_token)",
)
OpsBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(ops_bearer)]


def _is_operator(settings: SettingsDep, bearer: OpsBearer) -> bool:
    """Whether the request carries an operations token; a wrong one is a 401 (no token:
    False, the caller decides)."""
    if bearer is None:
        return False
    if not matches_any(bearer.credentials, settings.ops_tokens):
        raise Unauthorized("invalid bearer token", 'Bearer error="invalid_token"')
    return True


def _require_operator(operator: Annotated[bool, Depends(_is_operator)]) -> None:
    if not operator:
        raise Unauthorized(
            "/metrics needs 'Authorization: Bearer <token>': ops.metrics_token or a service "
            "token (api_tokens)"
        )


@router.get(
    "/healthz",
    summary="Liveness; with an operations token, of every supervised loop and camera",
    responses={
        503: {"description": "a supervised loop died (same body)"},
        **error_responses(401, _401="a bearer token that is not an operations token"),
    },
)
async def healthz(
    supervisor: SupervisorDep,
    buffers: BuffersDep,
    presence: PresenceDep,
    live_view: LiveViewDep,
    operator: Annotated[bool, Depends(_is_operator)],
) -> JSONResponse:
    """200 `{"status": "ok"}` while every supervised loop runs (or backs off to retry); 503
    `{"status": "unhealthy"}` once one died. With a service token or `ops.metrics_token`
    the body also has each loop, each camera and this server process (`instance.pid`).

    A camera that is offline is reported but is not unhealthy: doorbells get unplugged.
    """
    healthy = supervisor.healthy
    body: dict[str, Any] = {"status": "ok" if healthy else "unhealthy"}
    if operator:
        body |= _details(supervisor, buffers, presence)
        body["webrtc"] = live_view.health()
    return JSONResponse(body, status_code=200 if healthy else 503)


def _details(
    supervisor: SupervisorDep, buffers: BuffersDep, presence: PresenceDep
) -> dict[str, Any]:
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
    # Which server answered: `doorbell demo` checks it is the one it started.
    return {"loops": loops, "cameras": cameras, "instance": {"pid": os.getpid()}}


@router.get(
    "/metrics",
    summary="Prometheus metrics (with an operations token)",
    response_class=PlainTextResponse,
    dependencies=[Depends(_require_operator)],
    responses={
        401: {
            "description": "no bearer token, or not an operations token",
            "content": {"application/json": {"schema": {"$ref": ERROR_OUT}}},
        }
    },
)
async def metrics(series: MetricsDep) -> PlainTextResponse:
    text = "\n".join(series.render()) + "\n"
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
