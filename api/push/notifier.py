"""What a notifier is (a channel's way of delivering a PushMessage to devices, each device's
outcome a SendResult), the logging stand-in for a channel that is not set up, and the routing
notifier that splits a job's devices by channel and merges what each channel reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from api.events.model import Channel, DeviceRecord, PushOutcome
from api.push.messages import PushMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one device in one send."""

    device_id: str
    outcome: PushOutcome
    message_id: str | None = None
    error: str | None = None
    retry_after_s: float | None = None  # from the HTTP Retry-After header when one was given


class Notifier(Protocol):
    """Sends messages; never raises for a delivery problem (those are results)."""

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        """One result per device, in the order of `devices`."""
        ...

    async def aclose(self) -> None: ...


class LoggingNotifier:
    """Stands in for a channel that is not set up (`why`): logs and reports `logged`."""

    def __init__(self, why: str = "no FCM credentials") -> None:
        self._why = why

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        # The data's values stay out: its image and clip links are signed URLs.
        logger.info(
            "push not sent (%s): %s %r %r (data: %s) to %d device(s)",
            self._why, message.kind, message.title, message.body,
            ", ".join(sorted(message.data)), len(devices),
        )  # fmt: skip
        return [SendResult(device.id, "logged", error=self._why) for device in devices]

    async def aclose(self) -> None:
        return None


class RoutingNotifier:
    """One notifier per channel: each send goes to every channel that has devices in it, at
    once, and the results come back in the order of the devices. A channel with no notifier,
    or whose notifier fails or leaves a device out, reports `error` for those devices without
    touching the other channel's."""

    def __init__(self, channels: Mapping[Channel, Notifier]) -> None:
        self._channels = dict(channels)

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        groups: dict[Channel, list[DeviceRecord]] = {}
        for device in devices:
            groups.setdefault(device.channel, []).append(device)
        sends = [self._send(channel, message, group) for channel, group in groups.items()]
        by_id = {r.device_id: r for results in await asyncio.gather(*sends) for r in results}
        return [
            by_id.get(d.id) or SendResult(d.id, "error", error=f"no result from {d.channel}")
            for d in devices
        ]

    async def _send(
        self, channel: Channel, message: PushMessage, devices: list[DeviceRecord]
    ) -> list[SendResult]:
        notifier = self._channels.get(channel)
        if notifier is None:
            return [SendResult(d.id, "error", error=f"no {channel} notifier") for d in devices]
        try:
            return await notifier.send(message, devices)
        except Exception as exc:
            logger.exception("the %s notifier failed", channel)
            return [
                SendResult(d.id, "error", error=f"{channel} notifier failed: {exc}")
                for d in devices
            ]

    async def aclose(self) -> None:
        """Close every channel's notifier, each even if another fails."""
        for channel, notifier in self._channels.items():
            try:
                await notifier.aclose()
            except Exception:
                logger.exception("closing the %s notifier failed", channel)
