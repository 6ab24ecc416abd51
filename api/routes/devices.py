"""Phones registered for push: register (an upsert by FCM token), list, delete; with each
device's preferences (cameras, motion on or off, quiet hours)."""

from __future__ import annotations

import zoneinfo

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.errors import BadRequest, NotFound
from api.records import Platform, QuietHours
from api.routes.deps import ServicesDep
from api.views import DeviceOut, QuietHoursModel, device_out

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


@router.post(
    "",
    summary="Register a phone for push, or update it (same token)",
    status_code=201,
    responses={200: {"description": "the token was registered already: updated"}},
)
async def register(body: DeviceIn, response: Response, services: ServicesDep) -> DeviceOut:
    known = [c.id for c in services.settings.cameras]
    for camera in body.cameras or []:
        if camera not in known:
            raise BadRequest(
                "cameras", f"unknown camera {camera!r}; allowed: {', '.join(known) or 'none'}"
            )
    quiet = None
    if body.quiet_hours is not None:
        try:
            zoneinfo.ZoneInfo(body.quiet_hours.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise BadRequest(
                "quiet_hours.timezone",
                f"unknown time zone {body.quiet_hours.timezone!r}; use an IANA name such as "
                "Europe/Berlin or America/New_York",
            ) from None
        quiet = QuietHours(body.quiet_hours.start, body.quiet_hours.end, body.quiet_hours.timezone)
    device, created = await services.db.devices.upsert(
        body.token,
        body.platform,
        body.name,
        None if body.cameras is None else tuple(dict.fromkeys(body.cameras)),
        body.motion,
        quiet,
    )
    services.devices.changed()
    response.status_code = 201 if created else 200
    return device_out(device)


@router.get("", summary="The registered phones")
async def list_devices(services: ServicesDep) -> DeviceList:
    return DeviceList(devices=[device_out(d) for d in await services.devices.all()])


@router.delete("/{device_id}", status_code=204, summary="Stop pushing to a phone")
async def delete_device(device_id: str, services: ServicesDep) -> Response:
    if not await services.db.devices.delete(device_id):
        raise NotFound("device", device_id)
    services.devices.changed()
    return Response(status_code=204)
