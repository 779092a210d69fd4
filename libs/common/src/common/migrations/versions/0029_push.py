"""push notifications: eBay subscriptions per account, notifications received

Revision ID: 0029
Revises: 0021
Create Date: 2026-12-03 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("api", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("ebay_subscription_id", sa.Text(), nullable=True),
        sa.Column("destination_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _stamp("checked_at"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ebay_accounts.id"],
            name=op.f("fk_push_subscriptions_account_id_ebay_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint(
            "account_id", "api", "topic", name=op.f("uq_push_subscriptions_account_id")
        ),
    )
    op.create_index(op.f("ix_push_subscriptions_account_id"), "push_subscriptions", ["account_id"])
    op.create_table(
        "ebay_notifications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("family", sa.Text(), nullable=True),
        sa.Column("targets", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _stamp("event_date", nullable=True),
        _stamp("received_at"),
        _stamp("windowed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ebay_accounts.id"],
            name=op.f("fk_ebay_notifications_account_id_ebay_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ebay_notifications")),
        sa.UniqueConstraint("source", "notification_id", name=op.f("uq_ebay_notifications_source")),
    )
    op.create_index(op.f("ix_ebay_notifications_account_id"), "ebay_notifications", ["account_id"])
    op.create_index(
        op.f("ix_ebay_notifications_received_at"), "ebay_notifications", ["received_at"]
    )


def downgrade() -> None:
    op.drop_table("ebay_notifications")
    op.drop_table("push_subscriptions")
