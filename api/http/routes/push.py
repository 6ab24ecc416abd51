"""/api/v1/push: what a client needs to subscribe to push; for browsers, the server's Web Push
(VAPID) public key, the `applicationServerKey` of `PushManager.subscribe()`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.http.deps import AuthFirstRoute, WebPushKeyDep
from api.http.handlers import error_responses

router = APIRouter(prefix="/push", tags=["devices"], route_class=AuthFirstRoute)


class WebPushKeyOut(BaseModel):
    public_key: str = Field(
        description="the VAPID application server key: unpadded base64url of the uncompressed "
        "P-256 point (65 bytes), for PushManager.subscribe({applicationServerKey})"
    )


@router.get(
    "/web",
    summary="The Web Push application server key browsers subscribe with",
    responses=error_responses(404, _404="Web Push is turned off on this server"),
)
async def web_push_key(key: WebPushKeyDep) -> WebPushKeyOut:
    return WebPushKeyOut(public_key=key)
