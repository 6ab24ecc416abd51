"""Video out of the rolling buffer: clips (MP4, ZIP, fragmented MP4), live and rewind HLS,
segments, snapshots, and signed URLs for players that cannot send headers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.errors import BadDirective, MediaPending, OutsideBuffer
from api.http.deps import AuthFirstRoute, BufferDep, ClipsDep, SettingsDep, SignerDep, get_buffer
from api.http.handlers import error_responses
from api.http.params import MAX_SEQUENCE_DIGITS, clip_range, parse_format, parse_sequence
from api.http.ranges import file_response
from api.http.streaming import ReleasingStreamingResponse
from api.video.hls import LIVE_WINDOW, MAX_AHEAD, MAX_HOLD_S, buffer_playlist, wait_for_segment
from api.video.ports import CameraBuffer, ClipPlanView, SegmentView
from common.clock import wall_ms

router = APIRouter(prefix="/cameras", tags=["video"], route_class=AuthFirstRoute)

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
        admitted = clips.stream(buffer, plan)
        return ReleasingStreamingResponse(
            admitted.chunks,
            release=admitted.release,
            media_type=MEDIA_TYPES[fmt],
            headers=headers,
        )
    made = await clips.assembled(buffer, plan, fmt)
    return await file_response(
        request, made.path, made.layout, MEDIA_TYPES[fmt], headers, made.etag
    )


def _playlist(
    camera_id: str,
    buffer: CameraBuffer[Any],
    signer: SignerDep,
    count: int | None,
    *,
    can_block_reload: bool = False,
) -> Response:
    exp = signer.expiry()

    def uri(segment: SegmentView) -> str:
        return signer.sign(f"/api/v1/cameras/{camera_id}/segments/{segment.seq}.ts", exp=exp)

    body = buffer_playlist(buffer.recent(count), uri, can_block_reload=can_block_reload)
    return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-cache"})


PLAYLIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {PLAYLIST_TYPE: {}}},
    **error_responses(404),
}


async def _block_until(buffer: CameraBuffer[Any], msn_text: str, part_text: str | None) -> None:
    """Hold a blocking reload until the playlist holds segment `_HLS_msn`."""
    msn = parse_sequence("_HLS_msn", msn_text)
    if part_text is not None:
        parse_sequence("_HLS_part", part_text)  # checked; segments here have no parts
    newest = buffer.recent(1)
    if newest and msn > newest[-1].seq + MAX_AHEAD:
        raise BadDirective(
            f"_HLS_msn={msn} is too far ahead: the newest segment is {newest[-1].seq}, "
            f"and a reload may ask for at most {MAX_AHEAD} beyond it"
        )
    if not await wait_for_segment(buffer, msn, MAX_HOLD_S):
        raise MediaPending(
            f"segment {msn} was not made within {MAX_HOLD_S:g} s (is the camera offline?); "
            "ask again",
            retry_after_s=1,
        )


@router.get(
    "/{camera_id}/live.m3u8",
    summary="Live HLS: the newest segments",
    response_class=Response,
    responses={
        **PLAYLIST_RESPONSES,
        **error_responses(
            400,
            422,
            503,
            _400=f"`_HLS_msn` more than {MAX_AHEAD} segments beyond the newest, or "
            "`_HLS_part` without `_HLS_msn`",
            _422="`_HLS_msn` or `_HLS_part` is not a non-negative integer",
            _503=f"the segment `_HLS_msn` asks for was not made within {MAX_HOLD_S:g} s "
            "(Retry-After)",
        ),
    },
)
async def live(
    camera_id: str,
    buffer: BufferDep,
    signer: SignerDep,
    msn: Annotated[
        str | None,
        Query(
            alias="_HLS_msn",
            description="blocking reload: answer once the playlist holds this segment "
            f"(at most {MAX_AHEAD} beyond the newest; held at most {MAX_HOLD_S:g} s)",
        ),
    ] = None,
    part: Annotated[
        str | None,
        Query(
            alias="_HLS_part",
            description="accepted with `_HLS_msn` and otherwise ignored: segments have no parts",
        ),
    ] = None,
) -> Response:
    """A sliding window of the newest ~6 segments. Segment URLs are signed. The playlist
    declares `CAN-BLOCK-RELOAD=YES`: a player that sends `_HLS_msn` gets the playlist the
    moment that segment exists (RFC 8216bis 6.2.5.2) rather than polling for it."""
    if part is not None and msn is None:
        raise BadDirective("_HLS_part needs _HLS_msn (the segment the part belongs to)")
    if msn is not None:
        await _block_until(buffer, msn, part)
    return _playlist(camera_id, buffer, signer, LIVE_WINDOW, can_block_reload=True)


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
async def segment(
    camera_id: str,
    seq: Annotated[int, Path(ge=0, le=10**MAX_SEQUENCE_DIGITS - 1)],
    buffer: BufferDep,
) -> Response:
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
