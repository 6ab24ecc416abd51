"""What doorbell agents call: POST /api/v1/agent/events, with the camera's device token.

Every answer, refusals included, carries `server_time_ms`, from which the agent measures its
clock offset. Statuses follow what the agent does with them: 2xx done (a repeat included),
422/413/409 never acceptable (dropped), 401/403/425/503 retried later.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.events import wall_ms
from api.ingest import AgentEvent, place_in_time
from api.routes.deps import ServicesDep
from api.services import Services

router = APIRouter(prefix="/agent", tags=["agent"])


def _answer(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({**body, "server_time_ms": wall_ms()}, status_code=status, headers=headers)


def _device_camera(request: Request, services: Services) -> str | None:
    """The camera whose device token the request carries (every token compared in constant
    time), or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    given = token.strip().encode()
    found = None
    for camera in services.settings.cameras:
        secret = camera.device_token.get_secret_value().encode()
        if secret and hmac.compare_digest(given, secret):
            found = camera.id
    return found


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None if it is larger than `limit` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


@router.post(
    "/events",
    summary="Report a ring or a motion edge (doorbell agents)",
    status_code=201,
    responses={
        200: {"description": "a repeat of a stored event: nothing more was done"},
        201: {"description": "stored; push, snapshot and clip follow"},
        401: {"description": "no or unknown device token (retried by the agent)"},
        403: {"description": "the token belongs to another camera (retried)"},
        409: {"description": "the id is taken by a different event"},
        413: {"description": "the body is larger than events.max_body_bytes"},
        422: {"description": "not a valid event, unknown camera, or a time far from now"},
        425: {"description": "a time far from now without clock_offset_ms: retry with it"},
    },
)
async def post_event(request: Request, services: ServicesDep) -> JSONResponse:
    """Body: `{id, camera, kind, at_ms, score?, box?, clock_offset_ms?}` (the agent's JSON
    schema). Idempotent by `id`. The event is placed at `at_ms + clock_offset_ms` on the
    server clock, which the answer's `at_ms` states."""
    received_ns = time.monotonic_ns()
    received_ms = wall_ms()
    settings = services.settings
    camera_id = _device_camera(request, services)
    if camera_id is None:
        return _answer(
            401,
            {
                "detail": "missing or unknown device token: send 'Authorization: Bearer <token>' "
                "with the camera's device_token from the server settings"
            },
            {"WWW-Authenticate": "Bearer"},
        )
    body = await _read_body(request, settings.events.max_body_bytes)
    if body is None:
        return _answer(
            413, {"detail": f"body too large: at most {settings.events.max_body_bytes} bytes"}
        )
    try:
        event = AgentEvent.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        return _answer(
            422,
            {
                "detail": "not a valid event: "
                + "; ".join(f"{e['field']}: {e['problem']}" for e in errors),
                "errors": errors,
                "allowed_kinds": ["ring", "motion_start", "motion_end"],
            },
        )
    if event.camera != camera_id:
        if settings.camera(event.camera) is None:
            return _answer(
                422,
                {
                    "detail": f"unknown camera {event.camera!r}; this device token is for "
                    f"{camera_id!r}",
                    "allowed": [camera_id],
                },
            )
        return _answer(
            403, {"detail": f"this device token is for camera {camera_id!r}, not {event.camera!r}"}
        )
    verdict = place_in_time(
        event, received_ms, settings.events.max_age_s, settings.events.max_future_s
    )
    if verdict.problem is not None:
        if verdict.retry_with_offset:
            return _answer(
                425,
                {
                    "detail": verdict.problem + "; no clock_offset_ms was sent: measure it from "
                    "this answer's server_time_ms and send again"
                },
            )
        return _answer(422, {"detail": verdict.problem})
    record, created = await services.events.ingest(event, verdict.at_ms, received_ms, received_ns)
    return _answer(
        201 if created else 200,
        {"id": record.id, "duplicate": not created, "at_ms": record.at_ms},
    )
