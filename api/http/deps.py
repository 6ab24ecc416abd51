"""Narrow route dependencies: each route takes the few objects it uses, by type.

The lifespan (`api.app`) yields an `AppState`; Starlette copies it into each request's
`request.state`, from which these read one field each. `BufferDep` also resolves the
`{camera_id}` path parameter, with the 404 (naming the cameras there are) built in.

`get_principal` authenticates (`api.http.auth`); /api/v1's router depends on it, and FastAPI
runs it once per request, so `PrincipalDep` and `UserDep` (the signed-in user, 403 for a
service token or a signed URL) hand routes the same answer.

FastAPI reads and parses a route's body before it runs any dependency, so a stranger could
make the server parse megabytes of JSON only to be told 401. `AuthFirstRoute` (every router
under /api/v1 that needs credentials is built with it) authenticates before the body is
read; `get_principal` then hands back that same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, TypedDict

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials

from api.accounts.limiter import AuthThrottle
from api.accounts.model import SignedIn
from api.accounts.sessions import Sessions
from api.accounts.tokens import ApiTokens
from api.config import Settings
from api.errors import NotFound
from api.events.devices import Devices
from api.events.history import EventHistory
from api.events.hub import Hub
from api.events.ingest import EventIngest
from api.http.auth import Principal, authenticate, bearer_scheme, cookie_scheme, require_user
from api.http.signing import UrlSigner
from api.metrics import Metrics
from api.relay.presence import Presence
from api.supervisor import Supervisor
from api.video.clips import ClipService
from api.video.ports import CameraBuffer
from api.video.webrtc import LiveView


class AppState(TypedDict):
    """What one running server shares with its routes (the lifespan's state)."""

    settings: Settings
    supervisor: Supervisor
    metrics: Metrics
    buffers: Mapping[str, CameraBuffer[Any]]
    presence: Presence
    clips: ClipService
    signer: UrlSigner
    hub: Hub
    ingest: EventIngest
    history: EventHistory
    devices: Devices
    web_push_key: str | None  # the VAPID public key (base64url); None: Web Push is off
    sessions: Sessions
    tokens: ApiTokens
    throttle: AuthThrottle  # failed authentication, per address
    live_view: LiveView  # WebRTC viewers and their media worker


def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


def get_buffers(request: Request) -> Mapping[str, CameraBuffer[Any]]:
    buffers: Mapping[str, CameraBuffer[Any]] = request.state.buffers
    return buffers


def get_buffer(camera_id: str, request: Request) -> CameraBuffer[Any]:
    """The `{camera_id}` in the path as its buffer; 404 naming the known cameras."""
    buffers = get_buffers(request)
    buffer = buffers.get(camera_id)
    if buffer is None:
        raise NotFound("camera", camera_id, list(buffers))
    return buffer


def get_live_view(request: Request) -> LiveView:
    live_view: LiveView = request.state.live_view
    return live_view


def get_supervisor(request: Request) -> Supervisor:
    supervisor: Supervisor = request.state.supervisor
    return supervisor


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.state.metrics
    return metrics


def get_presence(request: Request) -> Presence:
    presence: Presence = request.state.presence
    return presence


def get_clips(request: Request) -> ClipService:
    clips: ClipService = request.state.clips
    return clips


def get_signer(request: Request) -> UrlSigner:
    signer: UrlSigner = request.state.signer
    return signer


def get_hub(request: Request) -> Hub:
    hub: Hub = request.state.hub
    return hub


def get_ingest(request: Request) -> EventIngest:
    ingest: EventIngest = request.state.ingest
    return ingest


def get_history(request: Request) -> EventHistory:
    history: EventHistory = request.state.history
    return history


def get_devices(request: Request) -> Devices:
    devices: Devices = request.state.devices
    return devices


def get_web_push_key(request: Request) -> str:
    """The server's VAPID public key; 404 when Web Push is turned off."""
    key: str | None = request.state.web_push_key
    if key is None:
        raise NotFound(
            "push channel", "web", why="Web Push is turned off on this server (push.web_push)"
        )
    return key


def get_sessions(request: Request) -> Sessions:
    sessions: Sessions = request.state.sessions
    return sessions


def get_tokens(request: Request) -> ApiTokens:
    tokens: ApiTokens = request.state.tokens
    return tokens


def get_throttle(request: Request) -> AuthThrottle:
    throttle: AuthThrottle = request.state.throttle
    return throttle


_PRINCIPAL = "doorbell.principal"  # where a request's principal is kept once known


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal:
    """Who the request acts for (`api.http.auth.authenticate`); 401/403/429 otherwise.
    Authenticated once per request: `AuthFirstRoute` may have done it already."""
    known: Principal | None = request.scope.get(_PRINCIPAL)
    if known is not None:
        return known
    principal = await authenticate(
        request,
        bearer,
        cookie,
        settings=get_settings(request),
        signer=get_signer(request),
        sessions=get_sessions(request),
        tokens=get_tokens(request),
        throttle=get_throttle(request),
    )
    request.scope[_PRINCIPAL] = principal
    return principal


class AuthFirstRoute(APIRoute):
    """A route of /api/v1 that needs credentials (its router is included under the
    `get_principal` dependency): authenticated before FastAPI reads and parses its body, so
    a request without valid credentials costs no body. The OpenAPI is unchanged: the body
    is still declared, and read and parsed by FastAPI once the request is authenticated."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated_first(request: Request) -> Response:
            await get_principal(request, await bearer_scheme(request), await cookie_scheme(request))
            return await handler(request)

        return authenticated_first


def get_user(principal: Annotated[Principal, Depends(get_principal)]) -> SignedIn:
    """The signed-in user; 403 for a service token or a signed URL."""
    return require_user(principal)


SettingsDep = Annotated[Settings, Depends(get_settings)]
BuffersDep = Annotated[Mapping[str, CameraBuffer[Any]], Depends(get_buffers)]
BufferDep = Annotated[CameraBuffer[Any], Depends(get_buffer)]
SupervisorDep = Annotated[Supervisor, Depends(get_supervisor)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
PresenceDep = Annotated[Presence, Depends(get_presence)]
LiveViewDep = Annotated[LiveView, Depends(get_live_view)]
ClipsDep = Annotated[ClipService, Depends(get_clips)]
SignerDep = Annotated[UrlSigner, Depends(get_signer)]
HubDep = Annotated[Hub, Depends(get_hub)]
IngestDep = Annotated[EventIngest, Depends(get_ingest)]
HistoryDep = Annotated[EventHistory, Depends(get_history)]
DevicesDep = Annotated[Devices, Depends(get_devices)]
WebPushKeyDep = Annotated[str, Depends(get_web_push_key)]
SessionsDep = Annotated[Sessions, Depends(get_sessions)]
TokensDep = Annotated[ApiTokens, Depends(get_tokens)]
ThrottleDep = Annotated[AuthThrottle, Depends(get_throttle)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
UserDep = Annotated[SignedIn, Depends(get_user)]
