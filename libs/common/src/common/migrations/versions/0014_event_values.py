"""history with values and business-event topics; indexes for the event inbox

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Per changed top-level field: {"old": …, "new": …}; NULL for a created entity.
    op.add_column(
        "ebay_events",
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("ebay_events", sa.Column("topic", sa.Text(), nullable=True))
    # The inbox lists an org's accounts newest first, and by topic.
    op.create_index("ix_ebay_events_account_id", "ebay_events", ["account_id", "id"])
    op.create_index(
        "ix_ebay_events_topic",
        "ebay_events",
        ["topic", "id"],
        postgresql_where=sa.text("topic IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ebay_events_topic", table_name="ebay_events")
    op.drop_index("ix_ebay_events_account_id", table_name="ebay_events")
    op.drop_column("ebay_events", "topic")
    op.drop_column("ebay_events", "changes")
