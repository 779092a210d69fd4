"""families: snapshot sweeps

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_snapshot_seen",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "entity_id", name=op.f("pk_sync_snapshot_seen")),
    )
    op.add_column("sync_runs", sa.Column("snapshot_complete", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("sync_runs", "snapshot_complete")
    op.drop_table("sync_snapshot_seen")
