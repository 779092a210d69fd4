"""detail calls of inquiries, returns and payment disputes

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ebay_claim_details",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ebay_accounts.id"],
            name=op.f("fk_ebay_claim_details_account_id_ebay_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "family", "entity_id", name=op.f("pk_ebay_claim_details")
        ),
    )


def downgrade() -> None:
    op.drop_table("ebay_claim_details")
