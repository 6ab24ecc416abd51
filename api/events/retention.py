"""Retention of saved event media: events older than the age limit go (record and files);
then saved clips beyond the byte budget go, oldest first (the event and its snapshot stay).
A file being downloaded is never deleted; it is retried on the next pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from api.config import EventSettings
from api.events.files import MediaFiles
from api.events.model import EventRecord
from api.events.ports import EventRepository
from common.clock import Clock, wall_ms

logger = logging.getLogger(__name__)

PASS_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class Decision:
    delete_events: tuple[str, ...]
    expire_clips: tuple[str, ...]


def decide(
    old: Sequence[EventRecord],
    clips: Sequence[EventRecord],
    max_bytes: int,
    leased: Callable[[str | None], bool],
) -> Decision:
    """Which old events to delete and which clips (oldest first) to expire (pure).

    `old` are the events past the age limit; `clips` every saved clip, oldest first.
    """
    deleting = [e.id for e in old if not leased(e.clip_path) and not leased(e.snapshot_path)]
    gone = set(deleting)
    remaining = [c for c in clips if c.id not in gone]
    total = sum(c.clip_bytes or 0 for c in remaining)
    expire: list[str] = []
    for clip in remaining:
        if total <= max_bytes:
            break
        if leased(clip.clip_path):
            continue
        expire.append(clip.id)
        total -= clip.clip_bytes or 0
    return Decision(tuple(deleting), tuple(expire))


class Retention:
    """Runs `enforce()` every few minutes and right after a clip is saved (`kick()`)."""

    def __init__(
        self,
        events: EventRepository,
        media: MediaFiles,
        settings: EventSettings,
        on_deleted: Callable[[list[str]], None],
        clock: Clock = wall_ms,
        pass_every_s: float = PASS_EVERY_S,
    ) -> None:
        self._events, self._media, self._settings = events, media, settings
        self._on_deleted = on_deleted
        self._clock = clock
        self._pass_every_s = pass_every_s
        self._kick = asyncio.Event()
        self.passes = 0

    def kick(self) -> None:
        self._kick.set()

    async def run(self) -> None:
        while True:
            self._kick.clear()
            await self.enforce()
            with contextlib.suppress(TimeoutError):
                # Not wait_for: on Python 3.11 it can drop a cancellation (the loop never ends).
                async with asyncio.timeout(self._pass_every_s):
                    await self._kick.wait()

    async def enforce(self) -> Decision:
        cutoff = self._clock() - round(self._settings.retention_days * 86_400_000)
        old = await self._events.older_than(cutoff)
        clips = await self._events.saved_clips()
        decision = decide(old, clips, self._settings.retention_max_bytes, self._media.leased)
        if decision.delete_events:
            deleted = await self._events.delete(decision.delete_events)
            await self._media.remove([p for e in deleted for p in (e.clip_path, e.snapshot_path)])
            self._on_deleted([e.id for e in deleted])
        by_id = {c.id: c for c in clips}
        for event_id in decision.expire_clips:
            clip = by_id[event_id]
            await self._events.set_clip(
                event_id, "expired", None, clip.clip_start_ms, clip.clip_end_ms, None
            )
            await self._media.remove([clip.clip_path])
        if decision.delete_events or decision.expire_clips:
            logger.info(
                "retention: deleted %d events older than %g days, expired %d clips over %d bytes",
                len(decision.delete_events),
                self._settings.retention_days,
                len(decision.expire_clips),
                self._settings.retention_max_bytes,
            )
        self.passes += 1
        return decision
