"""admin: OAuth connect states

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('oauth_states',
    sa.Column('nonce', sa.Text(), nullable=False),
    sa.Column('org_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=True),
    sa.Column('house_name', sa.Text(), nullable=True),
    sa.Column('environment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['ebay_accounts.id'], name=op.f('fk_oauth_states_account_id_ebay_accounts')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_oauth_states_org_id_orgs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_states_user_id_users')),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_oauth_states'))
    )


def downgrade() -> None:
    op.drop_table('oauth_states')
