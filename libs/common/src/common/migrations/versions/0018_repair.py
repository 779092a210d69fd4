"""repair: who asked for a run, and a cursor an operator may move back

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Cursors only move forward (DESIGN §3.3) — except in a transaction that says it repairs the
# pair (``SET LOCAL ebaysync.cursor_repair = 'on'``, common.repair): after a bad page an
# operator moves it back to re-sync from there (docs/adr/0008).
FORWARD_ONLY = """
CREATE OR REPLACE FUNCTION sync_state_cursor_forward_only() RETURNS trigger AS $$
BEGIN
    IF OLD.cursor IS NOT NULL AND (NEW.cursor IS NULL OR NEW.cursor < OLD.cursor)
       AND coalesce(current_setting('ebaysync.cursor_repair', true), '') <> 'on' THEN
        RAISE EXCEPTION 'sync_state cursor of (%, %) may not move back from % to %',
            OLD.account_id, OLD.family, OLD.cursor, NEW.cursor
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql
"""

STRICTLY_FORWARD = """
CREATE OR REPLACE FUNCTION sync_state_cursor_forward_only() RETURNS trigger AS $$
BEGIN
    IF OLD.cursor IS NOT NULL AND (NEW.cursor IS NULL OR NEW.cursor < OLD.cursor) THEN
        RAISE EXCEPTION 'sync_state cursor of (%, %) may not move back from % to %',
            OLD.account_id, OLD.family, OLD.cursor, NEW.cursor
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    # Who queued a run by hand (run now, repair): an operator's email; None for the scheduler.
    op.add_column("sync_runs", sa.Column("requested_by", sa.Text(), nullable=True))
    op.execute(FORWARD_ONLY)


def downgrade() -> None:
    op.execute(STRICTLY_FORWARD)
    op.drop_column("sync_runs", "requested_by")
