"""finances: signing keys and finance columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ebay_signing_keys",
        sa.Column("signing_key_id", sa.Text(), nullable=False),
        sa.Column("apiz_base_url", sa.Text(), nullable=False),
        sa.Column("cipher", sa.Text(), nullable=False),
        sa.Column("jwe", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("private_key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("signing_key_id", name=op.f("pk_ebay_signing_keys")),
    )
    op.create_index(
        op.f("ix_ebay_signing_keys_apiz_base_url"),
        "ebay_signing_keys",
        ["apiz_base_url"],
        unique=False,
    )
    op.add_column("ebay_transactions", sa.Column("fee_type", sa.Text(), nullable=True))
    op.add_column(
        "ebay_transactions",
        sa.Column("total_fee_value", sa.Numeric(precision=14, scale=2), nullable=True),
    )
    op.add_column("ebay_transactions", sa.Column("total_fee_currency", sa.Text(), nullable=True))
    op.add_column("ebay_transactions", sa.Column("buyer_username", sa.Text(), nullable=True))
    op.add_column(
        "ebay_payouts",
        sa.Column("last_attempted_payout_date", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("ebay_payouts", sa.Column("transaction_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("ebay_payouts", "transaction_count")
    op.drop_column("ebay_payouts", "last_attempted_payout_date")
    op.drop_column("ebay_transactions", "buyer_username")
    op.drop_column("ebay_transactions", "total_fee_currency")
    op.drop_column("ebay_transactions", "total_fee_value")
    op.drop_column("ebay_transactions", "fee_type")
    op.drop_index(op.f("ix_ebay_signing_keys_apiz_base_url"), table_name="ebay_signing_keys")
    op.drop_table("ebay_signing_keys")
