"""What doorbell agents call: POST /api/v1/agent/events, with the camera's device token.

Every answer, refusals included, carries `server_time_ms`, from which the agent measures its
clock offset. Statuses follow what the agent does with them: 2xx done (a repeat included),
422/413/409 never acceptable (dropped), 401/403/425/503 retried later.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError

from api.accounts.limiter import AuthThrottle
from api.config import Settings
from api.errors import (
    BadRequest,
    BodyTooLarge,
    ClockOffsetNeeded,
    DoorbellError,
    FieldProblem,
    Forbidden,
    Unauthorized,
)
from api.events.accept import AgentEvent, place_in_time
from api.http.auth import client_address
from api.http.deps import IngestDep, SettingsDep, ThrottleDep
from api.http.handlers import error_response, error_responses
from common.clock import wall_ms
from common.events import EVENT_KINDS


class AgentRoute(APIRoute):
    """Stamps the server's clock on every error answer of these routes (the success bodies
    carry it already): the agent measures its clock offset from any answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def stamped(request: Request) -> Response:
            try:
                return await handler(request)
            except DoorbellError as exc:
                return error_response(exc, server_time_ms=wall_ms())

        return stamped


router = APIRouter(prefix="/agent", tags=["agent"], route_class=AgentRoute)


class Accepted(BaseModel):
    id: str
    duplicate: bool = Field(description="a repeat of a stored event: nothing more was done")
    at_ms: int = Field(description="where the event was placed on the server clock")
    server_time_ms: int


def _device_camera(request: Request, settings: Settings, throttle: AuthThrottle) -> str:
    """The camera whose device token the request carries (every token compared in constant
    time); Unauthorized without one (a wrong one counts against the address), and
    TooManyFailures before any check while the address must wait."""
    address = client_address(request)
    throttle.check(address)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    found = None
    if scheme.lower() == "bearer" and given:
        for camera in settings.cameras:
            secret = camera.device_token.get_secret_value().encode()
            if secret and hmac.compare_digest(given, secret):
                found = camera.id
    if found is None:
        if given:
            throttle.failed(address, "device token")
        raise Unauthorized(
            "missing or unknown device token: send 'Authorization: Bearer <token>' with the "
            "camera's device_token from the server settings"
        )
    return found


async def _read_body(request: Request, limit: int) -> bytes:
    """The body; BodyTooLarge as soon as it exceeds `limit` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)


def _parse(body: bytes) -> AgentEvent:
    try:
        return AgentEvent.model_validate_json(body)
    except ValidationError as exc:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        text = "; ".join(f"{p.field}: {p.problem}" for p in problems)
        raise BadRequest(
            problems[0].field if problems else "body",
            f"not a valid event: {text}",
            problems=problems,
            allowed=EVENT_KINDS if any(p.field == "kind" for p in problems) else None,
        ) from None


def _check_camera(event: AgentEvent, camera_id: str, settings: Settings) -> None:
    if event.camera == camera_id:
        return
    if settings.camera(event.camera) is None:
        raise BadRequest(
            "camera",
            f"unknown camera {event.camera!r}; this device token is for {camera_id!r}",
            allowed=[camera_id],
        )
    raise Forbidden(f"this device token is for camera {camera_id!r}, not {event.camera!r}")


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": AgentEvent.model_json_schema()}},
    }
}


@router.post(
    "/events",
    summary="Report a ring or a motion edge (doorbell agents)",
    status_code=201,
    response_model=Accepted,
    openapi_extra=_BODY,
    responses={
        200: {"description": "a repeat of a stored event: nothing more done", "model": Accepted},
        201: {"description": "stored; push, snapshot and clip follow"},
        **error_responses(
            401, 403, 409, 413, 422, 425, 429, 503,
            _401="no or unknown device token (retried by the agent)",
            _403="the token belongs to another camera (retried)",
            _413="the body is larger than events.max_body_bytes",
            _429="too many failed authentications from this address: wait Retry-After",
            _422="not a valid event, unknown camera, or a time far from now",
            _503="the event store is unavailable (retried)",
        ),
    },
)  # fmt: skip
async def post_event(
    request: Request, settings: SettingsDep, ingest: IngestDep, throttle: ThrottleDep
) -> JSONResponse:
    """Body: `{id, camera, kind, at_ms, score?, box?, clock_offset_ms?}` (the agent-event
    schema). Idempotent by `id`. The event is placed at `at_ms + clock_offset_ms` on the
    server clock, which the answer's `at_ms` states."""
    received_ns, received_ms = time.monotonic_ns(), wall_ms()
    camera_id = _device_camera(request, settings, throttle)  # before reading the body
    event = _parse(await _read_body(request, settings.events.max_body_bytes))
    _check_camera(event, camera_id, settings)
    limits = settings.events
    verdict = place_in_time(event, received_ms, limits.max_age_s, limits.max_future_s)
    if verdict.problem is not None and verdict.retry_with_offset:
        raise ClockOffsetNeeded(
            verdict.problem + "; no clock_offset_ms was sent: measure it from this answer's "
            "server_time_ms and send again"
        )
    if verdict.problem is not None:
        raise BadRequest("at_ms", verdict.problem)
    record, created = await ingest.ingest(event, verdict.at_ms, received_ms, received_ns)
    body = Accepted(
        id=record.id, duplicate=not created, at_ms=record.at_ms, server_time_ms=wall_ms()
    )
    return JSONResponse(body.model_dump(), status_code=201 if created else 200)


class ServerTime(BaseModel):
    server_time_ms: int = Field(description="the server's clock, UTC epoch ms")


@router.get(
    "/time",
    summary="The server's clock (doorbell agents, before sending events)",
    response_model=ServerTime,
    responses={
        **error_responses(
            401,
            429,
            _401="no or unknown device token",
            _429="too many failed authentications from this address: wait Retry-After",
        )
    },
)
async def get_time(request: Request, settings: SettingsDep, throttle: ThrottleDep) -> ServerTime:
    """The agent asks this at start and after every reconnect, so that its first event
    already carries a measured `clock_offset_ms`. Any device token will do."""
    _device_camera(request, settings, throttle)
    return ServerTime(server_time_ms=wall_ms())
