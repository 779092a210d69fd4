"""fencing numbers: one per pair, carried by every run (docs/adr/0011-fencing.md)

Revision ID: 0017
Revises: 0022
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One sequence for every pair: fences only need to grow per pair, and nextval() never
    # hands out a number twice, whoever asks (scheduler replicas, the admin API's run now).
    op.execute("CREATE SEQUENCE sync_fence AS bigint")
    # The fence of the pair's newest run, in a row of its own: page transactions hold it in
    # SHARE mode (pages of one run still commit in parallel) while the cursor's row in
    # sync_state is updated by the run's last page.
    op.create_table(
        "sync_fences",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("fence", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ebay_accounts.id"],
            name=op.f("fk_sync_fences_account_id_ebay_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "family", name=op.f("pk_sync_fences")),
    )
    # Runs from before fencing carry 0.
    op.add_column(
        "sync_runs",
        sa.Column("fence", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sync_runs", "fence")
    op.drop_table("sync_fences")
    op.execute("DROP SEQUENCE sync_fence")
