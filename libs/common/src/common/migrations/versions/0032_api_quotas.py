"""api quota readings: the application's getRateLimits answer, stored daily by the token service

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04 06:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_quota_readings",
        # The keyset's client id: eBay counts quotas per application.
        sa.Column("application", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("application", name=op.f("pk_api_quota_readings")),
    )


def downgrade() -> None:
    op.drop_table("api_quota_readings")
