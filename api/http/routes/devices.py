"""Phones and browsers registered for push: register (an upsert by FCM token or Web Push
endpoint), list, delete; with each device's preferences (cameras, motion on or off, quiet
hours). A Web Push subscription is checked here as a browser makes one."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import urllib.parse
import zoneinfo

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, field_validator

from api.config import Settings
from api.errors import BadRequest, NotFound
from api.events.model import Channel, Platform, QuietHours, WebPushKeys
from api.http.deps import AuthFirstRoute, DevicesDep, SettingsDep
from api.http.handlers import error_responses
from api.http.views import DeviceOut, QuietHoursModel, device_out

router = APIRouter(prefix="/devices", tags=["devices"], route_class=AuthFirstRoute)

MAX_ENDPOINT_CHARS = 2048
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def endpoint_problem(endpoint: str) -> str | None:
    """What is wrong with a Web Push endpoint, or None: an https URL with a host, or http to
    this machine (a local push service in tests), without user info or fragment."""
    if not endpoint.isascii() or any(c.isspace() or not c.isprintable() for c in endpoint):
        return "must be an ASCII URL without spaces"
    parts = urllib.parse.urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL with a host"
    if parts.username is not None or parts.password is not None or parts.fragment:
        return "must not carry user info or a fragment"
    if parts.scheme == "http" and not _loopback(host):
        return "must be https:// (http:// only to a push service on this machine)"
    return None


def _is_local(endpoint: str) -> bool:
    return _loopback(urllib.parse.urlsplit(endpoint).hostname or "")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decode_key(value: str, size: int, what: str) -> bytes:
    """`value` (base64url, padding optional) decoded to exactly `size` bytes."""
    if not _BASE64URL.fullmatch(value):
        raise ValueError(f"must be base64url (A-Z a-z 0-9 - _), the {what}")
    bare = value.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"is not valid base64url: the {what}") from None
    if len(raw) != size:
        raise ValueError(f"must decode to {size} bytes (the {what}), not {len(raw)}")
    return raw


class WebPushKeysIn(BaseModel):
    p256dh: str = Field(
        max_length=100,
        description="the browser's P-256 public key: base64url of the uncompressed point",
    )
    auth: str = Field(max_length=40, description="the 16-byte auth secret, base64url")

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        raw = decode_key(value, 65, "uncompressed P-256 point")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise ValueError("is not a point on the P-256 curve") from None
        return value.rstrip("=")

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        decode_key(value, 16, "auth secret")
        return value.rstrip("=")


class WebPushIn(BaseModel):
    """A browser's PushSubscription as its `toJSON()` gives it (`expirationTime` and other
    members it may add are ignored)."""

    endpoint: str = Field(
        min_length=1, max_length=MAX_ENDPOINT_CHARS, description="the push service's URL"
    )
    keys: WebPushKeysIn

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        problem = endpoint_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class DeviceIn(BaseModel):
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        pattern=r"^\S+$",
        description="FCM registration token (phones, and browsers through Firebase)",
    )
    web_push: WebPushIn | None = Field(
        default=None,
        description="a browser's standard Web Push subscription, instead of a token "
        "(platform web); its key is GET /api/v1/push/web",
    )
    platform: Platform
    name: str = Field(default="", max_length=100, description="shown in the delivery log")
    cameras: list[str] | None = Field(
        default=None, max_length=64, description="cameras to push; null or absent: all"
    )
    motion: bool = Field(default=True, description="push motion too (rings always are)")
    quiet_hours: QuietHoursModel | None = Field(
        default=None, description="no motion pushes in this daily window (rings still come)"
    )


class DeviceList(BaseModel):
    devices: list[DeviceOut]


def _quiet_hours(body: QuietHoursModel | None) -> QuietHours | None:
    if body is None:
        return None
    try:
        zoneinfo.ZoneInfo(body.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            "quiet_hours.timezone",
            f"unknown time zone {body.timezone!r}; use an IANA name such as "
            "Europe/Berlin or America/New_York",
        ) from None
    return QuietHours(body.start, body.end, body.timezone)


def _target(body: DeviceIn, settings: Settings) -> tuple[str, Channel, WebPushKeys | None]:
    """Where pushes for this device go: (its token, its channel, its Web Push keys)."""
    if body.web_push is None:
        if body.token is None:
            raise BadRequest(
                "token",
                "token (an FCM registration token) or web_push (a browser's Web Push "
                "subscription) is required",
            )
        return body.token, "fcm", None
    if body.token is not None:
        raise BadRequest("web_push", "give token (FCM) or web_push (Web Push), not both")
    if body.platform != "web":
        raise BadRequest(
            "platform", "a Web Push subscription is a browser's: platform must be web",
            allowed=["web"],
        )  # fmt: skip
    if not settings.push.web_push:
        raise BadRequest(
            "web_push", "Web Push is turned off on this server (push.web_push); use FCM"
        )
    if _is_local(body.web_push.endpoint) and not settings.push.web_push_local:
        # The server POSTs to the endpoint: a local one is a local push service under test,
        # never a browser's, and anyone with a token could aim the server at this host.
        raise BadRequest(
            "web_push.endpoint",
            "must be an https:// push service; one on this machine only with "
            "push.web_push_local (for testing)",
        )
    keys = body.web_push.keys
    return body.web_push.endpoint, "web_push", WebPushKeys(keys.p256dh, keys.auth)


def _cameras(body: DeviceIn, settings: Settings) -> tuple[str, ...] | None:
    known = [c.id for c in settings.cameras]
    for camera in body.cameras or []:
        if camera not in known:
            raise BadRequest(
                "cameras",
                f"unknown camera {camera!r}; allowed: {', '.join(known) or 'none'}",
                allowed=known,
            )
    return None if body.cameras is None else tuple(dict.fromkeys(body.cameras))


@router.post(
    "",
    summary="Register a phone or browser for push, or update it (same token or endpoint)",
    status_code=201,
    responses={
        200: {
            "description": "the token or endpoint was registered already: updated",
            "model": DeviceOut,
        },
        **error_responses(422),
    },
)
async def register(
    body: DeviceIn, response: Response, devices: DevicesDep, settings: SettingsDep
) -> DeviceOut:
    token, channel, keys = _target(body, settings)
    device, created = await devices.register(
        token,
        body.platform,
        body.name,
        _cameras(body, settings),
        body.motion,
        _quiet_hours(body.quiet_hours),
        channel=channel,
        web_push_keys=keys,
    )
    response.status_code = 201 if created else 200
    return device_out(device)


@router.get("", summary="The registered phones and browsers")
async def list_devices(devices: DevicesDep) -> DeviceList:
    return DeviceList(devices=[device_out(d) for d in await devices.all()])


@router.delete(
    "/{device_id}",
    status_code=204,
    summary="Stop pushing to a phone or browser (a browser: unsubscribe it)",
    responses=error_responses(404),
)
async def delete_device(device_id: str, devices: DevicesDep) -> Response:
    if not await devices.delete(device_id):
        raise NotFound("device", device_id)
    return Response(status_code=204)
