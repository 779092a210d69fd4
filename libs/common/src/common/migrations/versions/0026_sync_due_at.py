"""sync_state.due_at: when the scheduler next needs to look at the pair; open runs index
(issue 12)

Revision ID: 0026
Revises: 0021
Create Date: 2026-12-03 17:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: look now (every existing pair is looked at once, at the scheduler's next tick).
    op.add_column("sync_state", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sync_state_due_at", "sync_state", ["due_at"])
    # The open runs only: what the tick joins to know which pairs are in flight.
    op.create_index(
        "ix_sync_runs_open",
        "sync_runs",
        ["account_id", "family", "updated_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_sync_runs_open", table_name="sync_runs")
    op.drop_index("ix_sync_state_due_at", table_name="sync_state")
    op.drop_column("sync_state", "due_at")
