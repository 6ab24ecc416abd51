"""The event history for apps: list (filters, cursor pages), one event with its push delivery
log, its snapshot and saved clip, deletion, and a live stream of notices (SSE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from api.errors import BadRequest
from api.http import sse
from api.http.deps import AuthFirstRoute, HistoryDep, HubDep, SignerDep
from api.http.handlers import error_responses
from api.http.params import check_camera_filter, parse_instant, parse_kinds
from api.http.ranges import WholeFile, file_response
from api.http.streaming import ReleasingStreamingResponse
from api.http.views import DeliveryOut, EventOut, delivery_out, event_out

router = APIRouter(prefix="/events", tags=["events"], route_class=AuthFirstRoute)

MAX_PAGE = 200
MAX_DELETE = 1000


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class EventDetail(EventOut):
    deliveries: list[DeliveryOut] = Field(description="every push attempt for this event")


# Event ids are UUIDs (36 characters); anything much longer is not one.
EventId = Annotated[str, Field(max_length=64)]


class DeleteRequest(BaseModel):
    ids: list[EventId] = Field(max_length=MAX_DELETE, description="event ids to delete")


class DeleteResult(BaseModel):
    deleted: list[str]
    not_found: list[str]


class ClearResult(BaseModel):
    deleted: int


@router.get("", summary="The event history, newest first", responses=error_responses(422))
async def list_events(
    history: HistoryDep,
    signer: SignerDep,
    camera: str | None = None,
    kind: Annotated[list[str] | None, Query(description="ring, motion_start, motion_end")] = None,
    start: str | None = None,
    end: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> EventPage:
    """Filters: `camera`, `kind` (repeat it or comma-separate), `start`/`end` (UTC epoch ms or
    ISO-8601 with an offset; start inclusive, end exclusive). `limit` 1-200; `next_cursor`
    pages to older events."""
    start_ms = None if start is None else parse_instant("start", start)
    end_ms = None if end is None else parse_instant("end", end)
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise BadRequest("end", f"end ({end_ms}) must be after start ({start_ms})")
    records, next_cursor = await history.page(
        camera=check_camera_filter(camera),
        kinds=parse_kinds(kind),
        start_ms=start_ms,
        end_ms=end_ms,
        cursor=cursor,
        limit=limit,
    )
    return EventPage(events=[event_out(r, signer) for r in records], next_cursor=next_cursor)


@router.get(
    "/stream",
    summary="Server-sent events: new events, snapshots and clips made, deletions",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        **error_responses(503, _503="too many open event streams (Retry-After)"),
    },
)
async def stream(request: Request, hub: HubDep, signer: SignerDep) -> Response:
    """`event` (a new event), `event_updated` (snapshot or clip made, motion ended),
    `events_deleted`, `events_cleared`, and `overflow` (notices were dropped: re-read the
    list). Each carries JSON; a comment line every 15 s keeps the connection alive."""
    subscription = hub.subscribe()  # the place is taken now (503 when none is left)
    return ReleasingStreamingResponse(
        sse.stream(subscription, signer, request.is_disconnected),
        release=subscription.close,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{event_id}",
    summary="One event, with its push delivery log",
    responses=error_responses(404, 422),
)
async def get_event(event_id: str, history: HistoryDep, signer: SignerDep) -> EventDetail:
    record = await history.get(event_id)
    deliveries = await history.deliveries(event_id)
    out = event_out(record, signer)
    return EventDetail(**out.model_dump(), deliveries=[delivery_out(d) for d in deliveries])


@router.get(
    "/{event_id}/snapshot.jpg",
    summary="The JPEG of the frame at the event's time",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        **error_responses(
            404,
            422,
            503,
            _404="no such event, or it has no snapshot (`state` says why)",
            _503="still being made (Retry-After)",
        ),
    },
)
async def event_snapshot(event_id: str, history: HistoryDep) -> Response:
    """Right after the event the frame may not have reached the buffer yet (about 1-2 s):
    the request then waits for it, so a push notification's image loads."""
    jpeg = await history.snapshot(event_id)
    return Response(
        jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get(
    "/{event_id}/clip.mp4",
    summary="The saved clip of the event (faststart MP4, ranges)",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}},
        206: {"description": "the requested byte range"},
        **error_responses(
            404, 416, 422, _404="no such event, or no clip (yet): `state` says which"
        ),
    },
)
async def event_clip(request: Request, event_id: str, history: HistoryDep) -> Response:
    clip = await history.clip(event_id)
    return await file_response(
        request,
        clip.path,
        WholeFile(clip.size),
        "video/mp4",
        {
            "Content-Disposition": f'attachment; filename="{clip.filename}"',
            "Cache-Control": "private, max-age=86400",
        },
        f'"{event_id[:8]}-{clip.size}"',
        on_close=clip.release,
    )


@router.post(
    "/delete", summary="Delete some events (and their files)", responses=error_responses(422)
)
async def delete_events(request: DeleteRequest, history: HistoryDep) -> DeleteResult:
    deleted = await history.delete(request.ids)
    gone = set(deleted)
    return DeleteResult(deleted=deleted, not_found=[i for i in request.ids if i not in gone])


@router.delete("", summary="Delete every event (and every saved file)")
async def clear_events(history: HistoryDep) -> ClearResult:
    return ClearResult(deleted=await history.clear())
