"""admin hardening: token versions, login throttle counters, seen deletion notices

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every login token carries the version it was issued at; bumping it revokes them all.
    op.add_column(
        "users",
        sa.Column("token_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "deletion_notices_seen",
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_deletion_notices_seen")),
    )
    op.create_index(
        op.f("ix_deletion_notices_seen_received_at"), "deletion_notices_seen", ["received_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deletion_notices_seen_received_at"), table_name="deletion_notices_seen")
    op.drop_table("deletion_notices_seen")
    op.drop_table("login_throttle")
    op.drop_column("users", "token_version")
