"""Phones registered for push: register (an upsert by push token), list, delete; with each
device's preferences (cameras, motion on or off, quiet hours)."""

from __future__ import annotations

import zoneinfo

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.errors import BadRequest, NotFound
from api.events.model import Platform, QuietHours
from api.http.deps import DevicesDep, SettingsDep
from api.http.handlers import error_responses
from api.http.views import DeviceOut, QuietHoursModel, device_out

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceIn(BaseModel):
    token: str = Field(
        min_length=1, max_length=4096, pattern=r"^\S+$", description="FCM registration token"
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


@router.post(
    "",
    summary="Register a phone for push, or update it (same token)",
    status_code=201,
    responses={
        200: {"description": "the token was registered already: updated", "model": DeviceOut},
        **error_responses(422),
    },
)
async def register(
    body: DeviceIn, response: Response, devices: DevicesDep, settings: SettingsDep
) -> DeviceOut:
    known = [c.id for c in settings.cameras]
    for camera in body.cameras or []:
        if camera not in known:
            raise BadRequest(
                "cameras",
                f"unknown camera {camera!r}; allowed: {', '.join(known) or 'none'}",
                allowed=known,
            )
    device, created = await devices.register(
        body.token,
        body.platform,
        body.name,
        None if body.cameras is None else tuple(dict.fromkeys(body.cameras)),
        body.motion,
        _quiet_hours(body.quiet_hours),
    )
    response.status_code = 201 if created else 200
    return device_out(device)


@router.get("", summary="The registered phones")
async def list_devices(devices: DevicesDep) -> DeviceList:
    return DeviceList(devices=[device_out(d) for d in await devices.all()])


@router.delete(
    "/{device_id}",
    status_code=204,
    summary="Stop pushing to a phone",
    responses=error_responses(404),
)
async def delete_device(device_id: str, devices: DevicesDep) -> Response:
    if not await devices.delete(device_id):
        raise NotFound("device", device_id)
    return Response(status_code=204)
