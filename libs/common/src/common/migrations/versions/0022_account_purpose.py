"""account purpose: which families an account syncs (seller, buyer, both), chosen at connect

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = "purpose IN ('seller', 'buyer', 'both')"


def upgrade() -> None:
    # Accounts connected before purposes synced every family: "both" keeps them as they were.
    for table in ("ebay_accounts", "oauth_states"):
        op.add_column(
            table, sa.Column("purpose", sa.Text(), server_default="both", nullable=False)
        )
        op.create_check_constraint(op.f(f"ck_{table}_purpose"), table, PURPOSES)


def downgrade() -> None:
    for table in ("oauth_states", "ebay_accounts"):
        op.drop_constraint(op.f(f"ck_{table}_purpose"), table, type_="check")
        op.drop_column(table, "purpose")
