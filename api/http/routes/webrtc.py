"""Live view over WebRTC, signalled the WHEP way (RFC 9725): an SDP offer POSTed to the
camera's endpoint, the answer back with the session's URL, DELETE on it to end the session.

Non-trickle: the browser sends its offer once ICE gathering is complete (or after a short
wait) and the answer carries every server candidate. PATCH adds late remote candidates; an ICE
restart is not done in place: the client ends the session and offers again.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.config import IceServer
from api.errors import BadOffer, BadRequest, LiveViewUnavailable, UnsupportedMediaType
from api.http.deps import AuthFirstRoute, BufferDep, LiveViewDep, PresenceDep, SettingsDep
from api.http.handlers import error_responses

router = APIRouter(prefix="/cameras", tags=["live view"], route_class=AuthFirstRoute)
config = APIRouter(tags=["live view"], route_class=AuthFirstRoute)

SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the session")]


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class WebRtcOut(BaseModel):
    enabled: bool = Field(description="false: play live view over HLS")
    ice_servers: list[IceServerOut] = Field(
        description="for the browser's RTCPeerConnection({iceServers})"
    )


@config.get("/webrtc", summary="Whether live view can use WebRTC, and its STUN/TURN servers")
async def webrtc_config(settings: SettingsDep, live_view: LiveViewDep) -> WebRtcOut:
    return WebRtcOut(
        enabled=settings.webrtc.enabled and live_view.available,
        ice_servers=[
            IceServerOut(
                urls=server.urls,
                username=server.username or None,
                credential=server.credential.get_secret_value() or None,
            )
            for server in settings.webrtc.ice_servers
        ],
    )


def _content_type(request: Request, wanted: str) -> None:
    got = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if got != wanted:
        raise UnsupportedMediaType(f"the body must be {wanted}, not {got or 'untyped'}")


async def _text(request: Request, what: str) -> str:
    try:
        return (await request.body()).decode()
    except UnicodeDecodeError:
        raise BadOffer(f"the {what} is not UTF-8 text") from None


@router.post(
    "/{camera_id}/whep",
    summary="Watch a camera live over WebRTC (WHEP): SDP offer in, SDP answer out",
    status_code=201,
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {SDP: {"schema": {"type": "string", "maxLength": 65536}}},
        }
    },
    responses={
        201: {
            "content": {SDP: {"schema": {"type": "string"}}},
            "description": "the SDP answer; Location: the session (DELETE it to end it); "
            'Link: rel="ice-server" for each configured STUN/TURN server',
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **error_responses(
            400,
            404,
            415,
            503,
            _400="the offer is not SDP, has no video to receive, or no H.264 in "
            "packetization mode 1 (the camera's H.264 is passed through, never transcoded)",
            _415="the body is not application/sdp",
            _503="no WebRTC now (`reason`): camera_offline, too_many_viewers (the caps "
            "webrtc.max_viewers_per_camera / max_viewers), webrtc_unavailable; play HLS",
        ),
    },
)
async def whep_offer(
    request: Request,
    camera_id: str,
    _buffer: BufferDep,  # the 404 for an unknown camera
    settings: SettingsDep,
    presence: PresenceDep,
    live_view: LiveViewDep,
) -> Response:
    _content_type(request, SDP)
    offer = await _text(request, "SDP offer")
    if not settings.webrtc.enabled:
        raise LiveViewUnavailable(
            "WebRTC live view is turned off on this server (webrtc.enabled); play HLS",
            "webrtc_unavailable",
            3600,
        )
    if not presence.is_online(camera_id):
        raise LiveViewUnavailable(f"camera {camera_id!r} is offline", "camera_offline", 2)
    session, answer = await live_view.offer(camera_id, offer)
    headers = {"Location": f"/api/v1/cameras/{camera_id}/whep/{session.id}"}
    links = [_link(server, url) for server in settings.webrtc.ice_servers for url in server.urls]
    if links:
        headers["Link"] = ", ".join(links)
    return Response(answer, status_code=201, media_type=SDP, headers=headers)


def _link(server: IceServer, url: str) -> str:
    """A WHEP `Link` header entry (RFC 9725 4.4): a TURN server with its credentials."""
    link = f'<{url}>; rel="ice-server"'
    if server.username:
        username = server.username.replace('"', "")
        credential = server.credential.get_secret_value().replace('"', "")
        link += f'; username="{username}"; credential="{credential}"; credential-type="password"'
    return link


@router.delete(
    "/{camera_id}/whep/{session_id}",
    summary="End a WebRTC live view session",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, _404="no such session (it ended already)"),
)
async def whep_delete(camera_id: str, session_id: SessionId, live_view: LiveViewDep) -> Response:
    await live_view.close(camera_id, session_id)
    return Response(status_code=204)


_CANDIDATE = re.compile(r"^a=(candidate:[^\r\n]{1,512})$", re.MULTILINE)
_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


@router.patch(
    "/{camera_id}/whep/{session_id}",
    summary="Add the browser's late ICE candidates to a session (trickle ICE)",
    status_code=204,
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {SDPFRAG: {"schema": {"type": "string", "maxLength": 65536}}},
        }
    },
    responses=error_responses(
        400,
        404,
        415,
        422,
        _404="no such session (it ended already)",
        _415="the body is not application/trickle-ice-sdpfrag",
        _422="an ICE restart (new ice-ufrag): end the session and offer again",
    ),
)
async def whep_patch(
    request: Request, camera_id: str, session_id: SessionId, live_view: LiveViewDep
) -> Response:
    _content_type(request, SDPFRAG)
    fragment = await _text(request, "SDP fragment")
    ufrag = _UFRAG.search(fragment)
    if ufrag is not None and ufrag.group(1) != live_view.ufrag(camera_id, session_id):
        raise BadRequest(
            "body",
            "a new ice-ufrag is an ICE restart, which is not done in place: DELETE this "
            "session and POST a new offer",
        )
    live_view.add_candidates(camera_id, session_id, _CANDIDATE.findall(fragment))
    return Response(status_code=204)
