"""The devices registered for push, cached in memory for the push path (one query per change,
not one per event). Every change goes through here, so the cache owns its invalidation."""

from __future__ import annotations

from api.events.model import Channel, DeviceRecord, Platform, QuietHours, WebPushKeys
from api.store import DeviceStore


class Devices:
    """Register, list and delete devices; also the push dispatcher's TokenRegistry (a token
    the push service calls dead deletes its device)."""

    def __init__(self, store: DeviceStore) -> None:
        self._store = store
        self._cache: list[DeviceRecord] | None = None

    async def all(self) -> list[DeviceRecord]:
        """Every device, oldest registration first."""
        if self._cache is None:
            self._cache = await self._store.list()
        return self._cache

    async def register(
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
        """Register the device with this token (an FCM token, or a Web Push endpoint with its
        keys), or update it: (the device, whether new)."""
        try:
            return await self._store.upsert(
                token, platform, name, cameras, motion, quiet_hours,
                channel=channel, web_push_keys=web_push_keys,
            )  # fmt: skip
        finally:
            self._cache = None

    async def delete(self, device_id: str) -> bool:
        """Stop pushing to a device; whether it existed."""
        try:
            return await self._store.delete(device_id)
        finally:
            self._cache = None

    async def forget_token(self, token: str) -> bool:
        """Delete the device with this token (the dispatcher logs its id, never the token)."""
        try:
            return await self._store.forget_token(token)
        finally:
            self._cache = None
