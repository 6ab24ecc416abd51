"""The delivery log: one row per push attempt to one device for one event."""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import BigInteger, Integer, String, exists, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.events.model import DeliveryRecord, DeviceRecord, MessageKind, PushOutcome
from api.store.errors import translated
from api.store.schema import DeliveryRow, DeviceRow, EventRow

logger = logging.getLogger(__name__)


def _record(row: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        event_id=row.event_id,
        device_id=row.device_id,
        device_name=row.device_name,
        message=cast(MessageKind, row.message),
        attempt=row.attempt,
        at_ms=row.at_ms,
        outcome=cast(PushOutcome, row.outcome),
        message_id=row.message_id,
        error=row.error,
    )


class DeliveryStore:
    """Push attempts by event. Each call is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        event_id: str,
        device: DeviceRecord,
        message: MessageKind,
        attempt: int,
        at_ms: int,
        outcome: PushOutcome,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Log one attempt. An event deleted meanwhile (retention, a user) drops the row; a
        device deleted meanwhile leaves it with device_id None. Neither is an error: the push
        went out (or not) either way."""
        # One INSERT .. SELECT: it inserts nothing when the event is gone and looks the device
        # up in the same statement, so no read-then-write race within the transaction.
        row = select(
            literal(event_id, String),
            select(DeviceRow.id).where(DeviceRow.id == device.id).scalar_subquery(),
            literal(device.name, String),
            literal(message, String),
            literal(attempt, Integer),
            literal(at_ms, BigInteger),
            literal(outcome, String),
            literal(message_id, String),
            literal(error, String),
        ).where(exists().where(EventRow.id == event_id))
        statement = (
            insert(DeliveryRow)
            .from_select(
                [
                    DeliveryRow.event_id,
                    DeliveryRow.device_id,
                    DeliveryRow.device_name,
                    DeliveryRow.message,
                    DeliveryRow.attempt,
                    DeliveryRow.at_ms,
                    DeliveryRow.outcome,
                    DeliveryRow.message_id,
                    DeliveryRow.error,
                ],
                row,
            )
            .returning(DeliveryRow.id)
        )
        with translated(f"cannot record a delivery of event {event_id}"):
            # On PostgreSQL a delete committed between the statement's snapshot and its
            # foreign key check still fails the insert; the second try sees the delete.
            for last_try in (False, True):
                try:
                    async with self._sessions.begin() as session:
                        inserted = (await session.scalars(statement)).first() is not None
                    break
                except IntegrityError:
                    if last_try:
                        raise
        if not inserted:
            logger.debug("event %s was deleted before its delivery could be logged", event_id)

    async def for_event(self, event_id: str) -> list[DeliveryRecord]:
        """The event's push attempts in the order they were made."""
        query = (
            select(DeliveryRow)
            .where(DeliveryRow.event_id == event_id)
            .order_by(DeliveryRow.attempt, DeliveryRow.at_ms, DeliveryRow.id)
        )
        with translated(f"cannot list the deliveries of event {event_id}"):
            async with self._sessions() as session:
                return [_record(row) for row in await session.scalars(query)]
