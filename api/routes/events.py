"""The event history for apps: list (filters, cursor pages), one event with its push delivery
log, its snapshot and saved clip, deletion, and a live stream of notices (SSE)."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from api.errors import BadRequest, NotFound
from api.ingest import CAMERA_PATTERN, UUID_PATTERN
from api.params import parse_instant
from api.ranges import WholeFile, file_response
from api.records import EVENT_KINDS, EventKind, EventRecord
from api.routes.deps import ServicesDep
from api.services import Services
from api.views import DeliveryOut, EventOut, delivery_out, event_out

router = APIRouter(prefix="/events", tags=["events"])

_UUID = re.compile(UUID_PATTERN)
_CAMERA = re.compile(CAMERA_PATTERN)
MAX_PAGE = 200
MAX_DELETE = 1000


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class EventDetail(EventOut):
    deliveries: list[DeliveryOut] = Field(description="every push attempt for this event")


class DeleteRequest(BaseModel):
    ids: list[str] = Field(max_length=MAX_DELETE, description="event ids to delete")


class DeleteResult(BaseModel):
    deleted: list[str]
    not_found: list[str]


class ClearResult(BaseModel):
    deleted: int


def _kinds(values: list[str] | None) -> list[EventKind] | None:
    if not values:
        return None
    kinds: list[EventKind] = []
    for value in (v for item in values for v in item.split(",") if v):
        kind = next((k for k in EVENT_KINDS if k == value), None)
        if kind is None:
            raise BadRequest("kind", f"kind must be one of {', '.join(EVENT_KINDS)}; got {value!r}")
        kinds.append(kind)
    return kinds


async def _event(services: Services, event_id: str) -> EventRecord:
    if not _UUID.match(event_id):
        raise BadRequest("event_id", f"an event id is a lowercase UUID; got {event_id!r}")
    record = await services.db.events.get(event_id)
    if record is None:
        raise NotFound("event", event_id)
    return record


@router.get("", summary="The event history, newest first")
async def list_events(
    services: ServicesDep,
    camera: str | None = None,
    kind: Annotated[list[str] | None, Query(description="ring, motion_start, motion_end")] = None,
    start: str | None = None,
    end: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> EventPage:
    """Filters: `camera`, `kind` (repeat it or comma-separate), `start`/`end` (UTC epoch ms or
    ISO-8601 with an offset; start inclusive, end exclusive). `limit` 1-200; `next_cursor`
    pages to older events."""
    if camera is not None and not _CAMERA.match(camera):
        raise BadRequest("camera", f"camera must match {CAMERA_PATTERN}; got {camera!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest("limit", f"limit must be from 1 to {MAX_PAGE}; got {limit}")
    start_ms = None if start is None else parse_instant("start", start)
    end_ms = None if end is None else parse_instant("end", end)
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise BadRequest("end", f"end ({end_ms}) must be after start ({start_ms})")
    records, next_cursor = await services.db.events.page(
        camera=camera,
        kinds=_kinds(kind),
        start_ms=start_ms,
        end_ms=end_ms,
        cursor=cursor,
        limit=limit,
    )
    signer = services.signer
    return EventPage(events=[event_out(r, signer) for r in records], next_cursor=next_cursor)


@router.get(
    "/stream",
    summary="Server-sent events: new events, snapshots and clips made, deletions",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 503: {"description": "too many"}},
)
async def stream(request: Request, services: ServicesDep) -> Response:
    """`event` (a new event), `event_updated` (snapshot or clip made, motion ended),
    `events_deleted`, `events_cleared`, and `overflow` (notices were dropped: re-read the
    list). Each carries JSON; a comment line every 15 s keeps the connection alive."""
    if services.hub.full:
        return JSONResponse(
            {"detail": "too many open event streams; retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return StreamingResponse(
        services.hub.stream(request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{event_id}", summary="One event, with its push delivery log")
async def get_event(event_id: str, services: ServicesDep) -> EventDetail:
    record = await _event(services, event_id)
    deliveries = await services.db.deliveries.for_event(event_id)
    out = event_out(record, services.signer)
    return EventDetail(**out.model_dump(), deliveries=[delivery_out(d) for d in deliveries])


@router.get(
    "/{event_id}/snapshot.jpg",
    summary="The JPEG of the frame at the event's time",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 503: {"description": "still being made"}},
)
async def event_snapshot(event_id: str, services: ServicesDep) -> Response:
    """Right after the event the frame may not have reached the buffer yet (about 1-2 s):
    the request then waits for it, so a push notification's image loads."""
    record = await _event(services, event_id)
    if record.snapshot_state == "pending":
        await services.recorder.wait_snapshot(event_id, services.settings.events.media_wait_s)
        record = await _event(services, event_id)
    if record.snapshot_state == "pending":
        return JSONResponse(
            {"detail": "the snapshot is still being made", "state": "pending"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    if record.snapshot_state != "ready" or record.snapshot_path is None:
        return JSONResponse(
            {
                "detail": f"this event has no snapshot (state {record.snapshot_state})",
                "state": record.snapshot_state,
            },
            status_code=404,
        )
    path = services.media.path(record.snapshot_path)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound("snapshot of event", event_id) from None
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get(
    "/{event_id}/clip.mp4",
    summary="The saved clip of the event (faststart MP4, ranges)",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}},
        206: {"description": "the requested byte range"},
        404: {"description": "no clip (yet): `state` says which"},
    },
)
async def event_clip(request: Request, event_id: str, services: ServicesDep) -> Response:
    record = await _event(services, event_id)
    if record.clip_state != "ready" or record.clip_path is None:
        headers = {}
        if record.clip_state == "pending":
            headers["Retry-After"] = str(int(services.settings.events.post_roll_s) + 2)
        return JSONResponse(
            {
                "detail": f"this event has no saved clip (state {record.clip_state})",
                "state": record.clip_state,
            },
            status_code=404,
            headers=headers,
        )
    rel = record.clip_path
    media = services.media
    media.acquire(rel)  # retention keeps it until the response is done with it
    try:
        size = (await asyncio.to_thread(media.path(rel).stat)).st_size
    except FileNotFoundError:
        media.release(rel)
        raise NotFound("clip of event", event_id) from None
    filename = f"{record.camera}-{event_id[:8]}-{record.kind}.mp4"
    return await file_response(
        request,
        media.path(rel),
        WholeFile(size),
        "video/mp4",
        {
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, max-age=86400",
        },
        f'"{event_id[:8]}-{size}"',
        on_close=lambda: media.release(rel),
    )


@router.post("/delete", summary="Delete some events (and their files)")
async def delete_events(request: DeleteRequest, services: ServicesDep) -> DeleteResult:
    for event_id in request.ids:
        if not _UUID.match(event_id):
            raise BadRequest("ids", f"an event id is a lowercase UUID; got {event_id!r}")
    deleted = await services.events.delete(request.ids)
    gone = set(deleted)
    return DeleteResult(deleted=deleted, not_found=[i for i in request.ids if i not in gone])


@router.delete("", summary="Delete every event (and every saved file)")
async def clear_events(services: ServicesDep) -> ClearResult:
    return ClearResult(deleted=await services.events.clear())
