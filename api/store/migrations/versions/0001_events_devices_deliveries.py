"""Events, devices and push deliveries.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from api.store.schema: a migration is frozen once released.
JSON = sa.JSON(none_as_null=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("camera", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("agent_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("clock_offset_ms", sa.BigInteger(), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("box", JSON, nullable=True),
        sa.Column("ended_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("snapshot_state", sa.String(), nullable=False),
        sa.Column("snapshot_path", sa.String(), nullable=True),
        sa.Column("snapshot_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("clip_state", sa.String(), nullable=False),
        sa.Column("clip_path", sa.String(), nullable=True),
        sa.Column("clip_start_ms", sa.BigInteger(), nullable=True),
        sa.Column("clip_end_ms", sa.BigInteger(), nullable=True),
        sa.Column("clip_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_camera_at_ms_id", "events", ["camera", "at_ms", "id"])
    op.create_index("ix_events_at_ms_id", "events", ["at_ms", "id"])
    op.create_index("ix_events_snapshot_state", "events", ["snapshot_state"])
    op.create_index("ix_events_clip_state_at_ms", "events", ["clip_state", "at_ms"])

    op.create_table(
        "devices",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("cameras", JSON, nullable=True),
        sa.Column("motion", sa.Boolean(), nullable=False),
        sa.Column("quiet_hours", JSON, nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.UniqueConstraint("token", name="uq_devices_token"),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=True),
        sa.Column("device_name", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_deliveries_event_id_events", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_deliveries_device_id_devices",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_deliveries_event_id_attempt", "deliveries", ["event_id", "attempt"])
    op.create_index("ix_deliveries_device_id", "deliveries", ["device_id"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("devices")
    op.drop_table("events")
