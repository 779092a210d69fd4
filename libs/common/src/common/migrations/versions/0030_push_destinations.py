"""push subscriptions kept: destinations per application, subscriptions per application too

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_destinations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        # The keyset's client id: eBay keeps destinations per application.
        sa.Column("application", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("destination_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_destinations")),
        sa.UniqueConstraint("application", name=op.f("uq_push_destinations_application")),
    )
    op.add_column(
        "push_subscriptions",
        sa.Column("application", sa.Text(), server_default="", nullable=False),
    )
    op.add_column(
        "push_subscriptions",
        sa.Column("repairs", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "push_subscriptions",
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Application-scoped rows have no account: NULLs must collide too (PostgreSQL 15+).
    op.drop_constraint("uq_push_subscriptions_account_id", "push_subscriptions", type_="unique")
    op.create_unique_constraint(
        "uq_push_subscriptions_account_id",
        "push_subscriptions",
        ["account_id", "application", "api", "topic"],
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_constraint("uq_push_subscriptions_account_id", "push_subscriptions", type_="unique")
    op.create_unique_constraint(
        "uq_push_subscriptions_account_id", "push_subscriptions", ["account_id", "api", "topic"]
    )
    op.drop_column("push_subscriptions", "repaired_at")
    op.drop_column("push_subscriptions", "repairs")
    op.drop_column("push_subscriptions", "application")
    op.drop_table("push_destinations")
