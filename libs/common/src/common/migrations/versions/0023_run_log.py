"""run log: each run's lines (start, pages with counts, retries with eBay's request id, errors,
cancel, done); cancelled runs

Revision ID: 0023
Revises: 0017
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_run_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=True),
        sa.Column("ebay_request_id", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.run_id"], name=op.f("fk_sync_run_log_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run_log")),
    )
    op.create_index("ix_sync_run_log_run", "sync_run_log", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_sync_run_log_run", table_name="sync_run_log")
    op.drop_table("sync_run_log")
