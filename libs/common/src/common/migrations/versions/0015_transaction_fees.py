"""fees per transaction line item

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ebay_transaction_fees",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("transaction_type", sa.Text(), nullable=False),
        sa.Column("line_item_id", sa.Text(), nullable=False),
        sa.Column("fee_type", sa.Text(), nullable=False),
        sa.Column("amount_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("amount_currency", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "transaction_id", "transaction_type"],
            [
                "ebay_transactions.account_id",
                "ebay_transactions.transaction_id",
                "ebay_transactions.transaction_type",
            ],
            name=op.f("fk_ebay_transaction_fees_account_id_ebay_transactions"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id",
            "transaction_id",
            "transaction_type",
            "line_item_id",
            "fee_type",
            name=op.f("pk_ebay_transaction_fees"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ebay_transaction_fees")
