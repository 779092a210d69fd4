"""messages in every folder: flagged, replied and archived as typed columns; 64-bit folder ids

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # eBay's FolderID is a long (custom folders); Inbox 0 and Sent 1 fit either way.
    op.alter_column("ebay_messages", "folder_id", type_=sa.BigInteger())
    for column in ("flagged", "replied", "archived"):
        op.add_column("ebay_messages", sa.Column(column, sa.Boolean(), nullable=True))
    # The inbox of an operator: a seller's messages by folder, newest first.
    op.create_index(
        "ix_ebay_messages_folder", "ebay_messages", ["account_id", "folder_id", "receive_date"]
    )


def downgrade() -> None:
    op.drop_index("ix_ebay_messages_folder", table_name="ebay_messages")
    for column in ("archived", "replied", "flagged"):
        op.drop_column("ebay_messages", column)
    op.alter_column("ebay_messages", "folder_id", type_=sa.Integer())
