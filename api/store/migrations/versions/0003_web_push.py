"""Devices reached through standard Web Push: a channel per device and the subscription keys.

The endpoint URL of a Web Push subscription lives in the unique `token` column, so a browser
registers (and is forgotten) by it as a phone is by its FCM token.

Revision ID: 0003_web_push
Revises: 0001 (at merge: 0002_accounts)
Create Date: 2026-12-18
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_web_push"
down_revision: str | None = "0002_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from api.store.schema: a migration is frozen once released.
KEYS_MATCH_CHANNEL = (
    "(channel = 'fcm' AND web_push_p256dh IS NULL AND web_push_auth IS NULL) OR "
    "(channel = 'web_push' AND web_push_p256dh IS NOT NULL AND web_push_auth IS NOT NULL)"
)


def upgrade() -> None:
    # Batch mode on SQLite (the table is copied); plain ALTERs on PostgreSQL.
    with op.batch_alter_table("devices") as batch:
        # Every device registered so far is an FCM one.
        batch.add_column(sa.Column("channel", sa.String(), server_default="fcm", nullable=False))
        batch.add_column(sa.Column("web_push_p256dh", sa.String(), nullable=True))
        batch.add_column(sa.Column("web_push_auth", sa.String(), nullable=True))
        batch.create_check_constraint("keys_match_channel", sa.text(KEYS_MATCH_CHANNEL))


def downgrade() -> None:
    # Browsers subscribed through Web Push cannot be kept without their keys.
    op.execute("DELETE FROM devices WHERE channel <> 'fcm'")
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint("ck_devices_keys_match_channel", type_="check")
        batch.drop_column("web_push_auth")
        batch.drop_column("web_push_p256dh")
        batch.drop_column("channel")
