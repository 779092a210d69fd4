"""operations: account health checks, the background jobs registry, granted scopes and the
masked capture of the last failed token refresh

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ebay_health_events",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey("ebay_accounts.id", name="fk_ebay_health_events_account_id_ebay_accounts"),
            nullable=False,
        ),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ebay_health_events"),
    )
    # The account page: an account's latest checks first.
    op.create_index(
        "ix_ebay_health_events_account", "ebay_health_events", ["account_id", "checked_at"]
    )
    op.create_table(
        "background_jobs",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_background_jobs"),
    )
    op.add_column("ebay_tokens", sa.Column("granted_scopes", sa.Text(), nullable=True))
    op.add_column(
        "ebay_tokens",
        sa.Column("last_refresh_failure", postgresql.JSONB(), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("ebay_tokens", "last_refresh_failure")
    op.drop_column("ebay_tokens", "granted_scopes")
    op.drop_table("background_jobs")
    op.drop_index("ix_ebay_health_events_account", table_name="ebay_health_events")
    op.drop_table("ebay_health_events")
