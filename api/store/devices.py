"""The device repository: phones and browsers registered for push, keyed by their token (the
FCM registration token, or the Web Push endpoint URL)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import cast

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.events.model import Channel, DeviceRecord, Platform, QuietHours, WebPushKeys
from api.store.errors import translated
from api.store.schema import DeviceRow
from common.clock import Clock, wall_ms


def _record(row: DeviceRow) -> DeviceRecord:
    quiet = row.quiet_hours
    keys = None
    if row.web_push_p256dh is not None and row.web_push_auth is not None:
        keys = WebPushKeys(p256dh=row.web_push_p256dh, auth=row.web_push_auth)
    return DeviceRecord(
        id=row.id,
        token=row.token,
        platform=cast(Platform, row.platform),
        name=row.name,
        cameras=tuple(row.cameras) if row.cameras is not None else None,
        motion=row.motion,
        quiet_hours=(
            QuietHours(start=quiet["start"], end=quiet["end"], timezone=quiet["timezone"])
            if quiet is not None
            else None
        ),
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        channel=cast(Channel, row.channel),
        web_push_keys=keys,
    )


class DeviceStore:
    """Devices by id, unique by token. Each call is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = wall_ms) -> None:
        self._sessions = sessions
        self._clock = clock  # epoch ms, for created_ms/updated_ms

    async def upsert(
        self,
        token: str,
        platform: Platform,
        name: str,
        cameras: tuple[str, ...] | None,
        motion: bool,
        quiet_hours: QuietHours | None,
        *,
        channel: Channel = "fcm",
        web_push_keys: WebPushKeys | None = None,
    ) -> tuple[DeviceRecord, bool]:
        """Register the device with this token, or update the one registered with it (which
        keeps its id and created_ms): (the device, whether it was new). One statement
        (INSERT .. ON CONFLICT (token) DO UPDATE), so concurrent registrations cannot race.
        A Web Push device (`channel` "web_push") has `web_push_keys`; an FCM one has none."""
        if (channel == "web_push") != (web_push_keys is not None):
            raise ValueError("web_push_keys go with channel 'web_push', and only with it")
        new_id = str(uuid.uuid4())
        now = self._clock()
        values = {
            "channel": channel,
            "web_push_p256dh": None if web_push_keys is None else web_push_keys.p256dh,
            "web_push_auth": None if web_push_keys is None else web_push_keys.auth,
            "platform": platform,
            "name": name,
            "cameras": list(cameras) if cameras is not None else None,
            "motion": motion,
            "quiet_hours": asdict(quiet_hours) if quiet_hours is not None else None,
            "updated_ms": now,
        }
        with translated("cannot register device"):
            async with self._sessions.begin() as session:
                dialect = session.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                statement = (
                    insert(DeviceRow)
                    .values(id=new_id, token=token, created_ms=now, **values)
                    .on_conflict_do_update(index_elements=[DeviceRow.token], set_=values)
                    .returning(DeviceRow)
                )
                row = (await session.scalars(statement)).one()
                # The update keeps the stored id: a new id means the insert happened.
                return _record(row), row.id == new_id

    async def get(self, device_id: str) -> DeviceRecord | None:
        with translated(f"cannot read device {device_id}"):
            async with self._sessions() as session:
                row = await session.get(DeviceRow, device_id)
                return _record(row) if row is not None else None

    async def list(self) -> list[DeviceRecord]:
        """Every device, oldest registration first."""
        query = select(DeviceRow).order_by(DeviceRow.created_ms, DeviceRow.id)
        with translated("cannot list devices"):
            async with self._sessions() as session:
                return [_record(row) for row in await session.scalars(query)]

    async def delete(self, device_id: str) -> bool:
        """Forget the device; its deliveries stay with device_id None. Whether it existed."""
        return await self._delete(DeviceRow.id == device_id, f"cannot delete device {device_id}")

    async def forget_token(self, token: str) -> bool:
        """Forget the device with this token (its push service said it is dead). Whether
        there was one."""
        return await self._delete(DeviceRow.token == token, "cannot forget a device token")

    async def _delete(self, where: ColumnElement[bool], action: str) -> bool:
        statement = delete(DeviceRow).where(where).returning(DeviceRow.id)
        with translated(action):
            async with self._sessions.begin() as session:
                return (await session.scalars(statement)).first() is not None
