"""The store's tables as typed SQLAlchemy 2 mappings; the migrations create exactly these.

Times are BIGINT epoch milliseconds (UTC), never DateTime: one clock, no time zones. The
schema changes only through a new migration in `migrations/versions/`;
`tests/api/store/test_store.py` checks that the migrations and these mappings agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so a later migration can alter or drop them by name on both dialects
# (SQLite's batch mode recreates tables and needs the names).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQL NULL (not the JSON value null) for None, so `IS NULL` means "absent" on both dialects.
Json = JSON(none_as_null=True)
# SQLite makes only an INTEGER PRIMARY KEY an auto-incrementing rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EventRow(Base):
    """One event (api.events.model.EventRecord)."""

    __tablename__ = "events"
    __table_args__ = (
        # The list query: newest first per camera or overall, keyset on (at_ms, id).
        Index(None, "camera", "at_ms", "id"),
        Index(None, "at_ms", "id"),
        # Restart recovery and clip retention look up few rows by state.
        Index(None, "snapshot_state"),
        Index(None, "clip_state", "at_ms"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    camera: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    agent_at_ms: Mapped[int] = mapped_column(BigInteger)
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[float | None]
    box: Mapped[list[float] | None] = mapped_column(Json)
    ended_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    snapshot_state: Mapped[str] = mapped_column(String)
    snapshot_path: Mapped[str | None] = mapped_column(String)
    snapshot_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    clip_state: Mapped[str] = mapped_column(String)
    clip_path: Mapped[str | None] = mapped_column(String)
    clip_start_ms: Mapped[int | None] = mapped_column(BigInteger)
    clip_end_ms: Mapped[int | None] = mapped_column(BigInteger)
    clip_bytes: Mapped[int | None] = mapped_column(BigInteger)


class DeviceRow(Base):
    """One device registered for push (api.events.model.DeviceRecord), unique by its token:
    the FCM registration token, or the Web Push endpoint URL."""

    __tablename__ = "devices"
    __table_args__ = (
        # A Web Push device has both keys; an FCM one neither.
        CheckConstraint(
            "(channel = 'fcm' AND web_push_p256dh IS NULL AND web_push_auth IS NULL) OR "
            "(channel = 'web_push' AND web_push_p256dh IS NOT NULL "
            "AND web_push_auth IS NOT NULL)",
            name="keys_match_channel",
        ),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    token: Mapped[str] = mapped_column(String, unique=True)
    platform: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    cameras: Mapped[list[str] | None] = mapped_column(Json)  # None: every camera
    motion: Mapped[bool]
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(Json)  # start, end, timezone
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String, server_default="fcm")  # fcm, web_push
    web_push_p256dh: Mapped[str | None] = mapped_column(String)
    web_push_auth: Mapped[str | None] = mapped_column(String)


class DeliveryRow(Base):
    """One push attempt (api.events.model.DeliveryRecord). Goes with its event; outlives its
    device, whose name it keeps."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(None, "event_id", "attempt"),
        # ON DELETE SET NULL finds a deleted device's rows by this index, not by a scan.
        Index(None, "device_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    device_name: Mapped[str] = mapped_column(String)
    message: Mapped[str] = mapped_column(String)
    attempt: Mapped[int] = mapped_column(Integer)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String)
    message_id: Mapped[str | None] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(String)


class UserRow(Base):
    """A person who may sign in (api.accounts.model.UserRecord); the name is unique."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    password_hash: Mapped[str] = mapped_column(String)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    password_changed_ms: Mapped[int] = mapped_column(BigInteger)


class SessionRow(Base):
    """A signed-in browser (api.accounts.model.SessionRecord): the id is the SHA-256 of the
    cookie, never the cookie. Goes with its user."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index(None, "user_id"),
        # Expired sessions are purged by this index.
        Index(None, "expires_ms"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    user_agent: Mapped[str | None] = mapped_column(String)
    address: Mapped[str | None] = mapped_column(String)


class ApiTokenRow(Base):
    """A user's API token (api.accounts.model.TokenRecord), found by the SHA-256 of the token.
    Goes with its user."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String)
    token_hash: Mapped[str] = mapped_column(String, unique=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    last_used_ms: Mapped[int | None] = mapped_column(BigInteger)
