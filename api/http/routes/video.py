"""Video out of the rolling buffer: clips (MP4, ZIP, fragmented MP4), live and rewind HLS,
segments, snapshots, and signed URLs for players that cannot send headers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from api.errors import OutsideBuffer
from api.http.deps import BufferDep, ClipsDep, SettingsDep, SignerDep, get_buffer
from api.http.handlers import error_responses
from api.http.params import clip_range, parse_format
from api.http.ranges import file_response
from api.video.hls import LIVE_WINDOW, buffer_playlist
from api.video.ports import CameraBuffer, ClipPlanView, SegmentView
from common.clock import wall_ms

router = APIRouter(prefix="/cameras", tags=["video"])

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
MEDIA_TYPES = {"mp4": "video/mp4", "fmp4": "video/mp4", "zip": "application/zip"}


def _outside(buffer: CameraBuffer[Any], what: str) -> OutsideBuffer:
    s = buffer.stats()
    if s.oldest_ms is None:
        return OutsideBuffer(f"{what}: the buffer holds no video yet", None, None)
    return OutsideBuffer(
        f"{what}: no video there; the buffer holds {s.oldest_ms}..{s.newest_ms}",
        s.oldest_ms,
        s.newest_ms,
    )


def _clip_headers(camera_id: str, plan: ClipPlanView, fmt: str) -> dict[str, str]:
    stamp = datetime.fromtimestamp(plan.start_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    seconds = round((plan.end_ms - plan.start_ms) / 1000)
    ext = "zip" if fmt == "zip" else "mp4"
    return {
        "Content-Disposition": f'attachment; filename="{camera_id}-{stamp}-{seconds}s.{ext}"',
        "X-Clip-Start": str(plan.start_ms),
        "X-Clip-End": str(plan.end_ms),
        "X-Clip-Gaps": ",".join(f"{g.start_ms}-{g.end_ms}" for g in plan.gaps),
        "Access-Control-Expose-Headers": "X-Clip-Start, X-Clip-End, X-Clip-Gaps",
    }


@router.get(
    "/{camera_id}/clip",
    summary="A clip of any moment in the buffer",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}, "application/zip": {}}},
        206: {"description": "the requested byte range"},
        **error_responses(
            404,
            416,
            422,
            503,
            _416="no video in that time range (`available`: what there is), or a byte range "
            "beyond the clip",
            _503="too many clips being assembled, or the assembly failed (Retry-After)",
        ),
    },
)
async def clip(
    request: Request,
    camera_id: str,
    buffer: BufferDep,
    clips: ClipsDep,
    settings: SettingsDep,
    seconds: str | None = None,
    start: str | None = None,
    end: str | None = None,
    format: str = "mp4",
) -> Response:
    """Either `seconds=N` (the last N seconds) or `start` and `end` (UTC epoch ms or ISO-8601
    with an offset). Whole 1-s segments are cut, never re-encoded, so the clip covers the
    request to within one segment; `X-Clip-Start`/`X-Clip-End` say exactly what it covers
    and `X-Clip-Gaps` where the camera was down. `format`: `mp4` (faststart, ranges), `zip`
    (the segments and an m3u8), `fmp4` (fragmented MP4, streamed as it is made)."""
    fmt = parse_format(format)
    wanted = clip_range(seconds, start, end, wall_ms(), settings.buffer_seconds)
    plan = buffer.plan(wanted.start_ms, wanted.end_ms)
    if plan is None:
        raise _outside(buffer, f"clip {wanted.start_ms}..{wanted.end_ms}")
    headers = _clip_headers(camera_id, plan, fmt)
    if fmt == "fmp4":
        return StreamingResponse(
            clips.stream(buffer, plan), media_type=MEDIA_TYPES[fmt], headers=headers
        )
    made = await clips.assembled(buffer, plan, fmt)
    return await file_response(
        request, made.path, made.layout, MEDIA_TYPES[fmt], headers, made.etag
    )


def _playlist(
    camera_id: str, buffer: CameraBuffer[Any], signer: SignerDep, count: int | None
) -> Response:
    exp = signer.expiry()

    def uri(segment: SegmentView) -> str:
        return signer.sign(f"/api/v1/cameras/{camera_id}/segments/{segment.seq}.ts", exp=exp)

    body = buffer_playlist(buffer.recent(count), uri)
    return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-cache"})


PLAYLIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {PLAYLIST_TYPE: {}}},
    **error_responses(404),
}


@router.get(
    "/{camera_id}/live.m3u8",
    summary="Live HLS: the newest segments",
    response_class=Response,
    responses=PLAYLIST_RESPONSES,
)
async def live(camera_id: str, buffer: BufferDep, signer: SignerDep) -> Response:
    """A sliding window of the newest ~6 segments. Segment URLs are signed."""
    return _playlist(camera_id, buffer, signer, LIVE_WINDOW)


@router.get(
    "/{camera_id}/rewind.m3u8",
    summary="Rewind HLS: the whole buffer",
    response_class=Response,
    responses=PLAYLIST_RESPONSES,
)
async def rewind(camera_id: str, buffer: BufferDep, signer: SignerDep) -> Response:
    """The whole buffer as a sliding playlist, to scrub back up to its length."""
    return _playlist(camera_id, buffer, signer, None)


@router.get(
    "/{camera_id}/segments/{seq}.ts",
    summary="One 1-s MPEG-TS segment",
    response_class=Response,
    responses={
        200: {"content": {"video/mp2t": {}}},
        **error_responses(404, 416, 422, _416="not in the buffer (evicted, or not yet made)"),
    },
)
async def segment(camera_id: str, seq: int, buffer: BufferDep) -> Response:
    data = await buffer.read_segment(seq)
    if data is None:
        raise _outside(buffer, f"segment {seq}")
    return Response(
        data, media_type="video/mp2t", headers={"Cache-Control": "private, max-age=3600, immutable"}
    )


@router.get(
    "/{camera_id}/snapshot.jpg",
    summary="A JPEG of the newest keyframe",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        **error_responses(404, 416, 503, _416="the buffer holds no video yet"),
    },
)
async def snapshot(camera_id: str, buffer: BufferDep) -> Response:
    shot = await buffer.snapshot()
    if shot is None:
        raise _outside(buffer, "snapshot")
    segment, jpeg = shot
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Snapshot-At": str(segment.start_ms)},
    )


class SignedUrls(BaseModel):
    expires_ms: int = Field(description="when these URLs stop working (UTC epoch ms)")
    live: str
    rewind: str
    snapshot: str


@router.get(
    "/{camera_id}/signed-urls",
    summary="Signed URLs for header-less players",
    responses=error_responses(404),
    dependencies=[Depends(get_buffer)],  # 404 for an unknown camera
)
async def signed_urls(camera_id: str, signer: SignerDep) -> SignedUrls:
    """Paths with `exp` and `sig`, usable without a bearer token until `expires_ms`."""
    exp = signer.expiry()
    base = f"/api/v1/cameras/{camera_id}"
    return SignedUrls(
        expires_ms=exp * 1000,
        live=signer.sign(f"{base}/live.m3u8", exp=exp),
        rewind=signer.sign(f"{base}/rewind.m3u8", exp=exp),
        snapshot=signer.sign(f"{base}/snapshot.jpg", exp=exp),
    )
