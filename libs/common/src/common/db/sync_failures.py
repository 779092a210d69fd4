"""The writer's failure bookkeeping of :class:`common.db.sync.SyncRepository` (which inherits
it): failed and cancelled runs, the pair's failures in a row and its circuit breaker."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.sync_tables import (
    OPEN_RUN_STATUSES,
    OPEN_SQL,
    RunStatus,
    SyncRun,
    SyncState,
    run_identity,
)
from common.families import Family
from common.messages import RunMessage


class SyncFailures:
    session: AsyncSession

    async def fail_run(self, run: RunMessage, error: str) -> bool:
        """Mark the run failed (creating its row if need be); False if it already ended.

        Only the first dead letter of a run counts: a run that already failed or succeeded is
        left alone, so a redelivered dead letter changes nothing.
        """
        stmt = insert(SyncRun).values(
            **run_identity(run),
            status=RunStatus.FAILED,
            error=error,
            finished_at=func.clock_timestamp(),
            updated_at=func.clock_timestamp(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[SyncRun.run_id],
            set_={
                "status": RunStatus.FAILED,
                "error": error,
                "finished_at": func.clock_timestamp(),
                "updated_at": func.clock_timestamp(),
            },
            where=SyncRun.status.in_(OPEN_RUN_STATUSES),
        )
        changed = await self.session.execute(stmt.returning(SyncRun.run_id))
        return changed.first() is not None

    async def cancel_run(self, run_id: UUID, by: str) -> bool:
        """Mark an open run cancelled; False when it already ended (or does not exist)."""
        cancelled = await self.session.execute(
            # The pair is free again: the scheduler looks at it at its next tick.
            text(
                f"""
                WITH cancelled AS (
                    UPDATE sync_runs SET status = '{RunStatus.CANCELLED}', error = :error,
                           finished_at = clock_timestamp(), updated_at = clock_timestamp()
                    WHERE run_id = :run_id AND status IN ({OPEN_SQL})
                    RETURNING run_id, account_id, family),
                due AS (
                    UPDATE sync_state s SET due_at = NULL FROM cancelled c
                    WHERE s.account_id = c.account_id AND s.family = c.family)
                SELECT run_id FROM cancelled
                """
            ),
            {"run_id": run_id, "error": f"cancelled by {by}"},
        )
        return cancelled.first() is not None

    async def record_failure(
        self, account_id: int, family: Family, error: str, now: datetime
    ) -> int:
        """Count one more failure of the pair in a row; returns how many there are now.

        The pair's due time is reset (its run may have ended): the scheduler looks at it next.

        The row stays locked until the transaction ends, so concurrent failures of one pair
        count one after the other.
        """
        row = (
            await self.session.execute(
                text(
                    """
                    INSERT INTO sync_state (account_id, family, last_error, last_error_at,
                                            consecutive_failures, updated_at)
                    VALUES (:account_id, :family, :error, :now, 1, :now)
                    ON CONFLICT (account_id, family) DO UPDATE SET
                        last_error = EXCLUDED.last_error,
                        last_error_at = EXCLUDED.last_error_at,
                        consecutive_failures = sync_state.consecutive_failures + 1,
                        due_at = NULL,
                        updated_at = EXCLUDED.updated_at
                    RETURNING consecutive_failures
                    """
                ),
                {"account_id": account_id, "family": str(family), "error": error, "now": now},
            )
        ).one()
        failures: int = row.consecutive_failures
        return failures

    async def pause(self, account_id: int, family: Family, pause: timedelta) -> None:
        """Open the pair's circuit breaker for ``pause``, by the database clock (the one the
        scheduler's :meth:`pair_states` reads it with)."""
        await self.session.execute(
            text(
                "UPDATE sync_state SET paused_until = clock_timestamp() + :pause, "
                "updated_at = clock_timestamp() "
                "WHERE account_id = :account_id AND family = :family"
            ),
            {"account_id": account_id, "family": str(family), "pause": pause},
        )

    async def last_error(self, account_id: int, family: Family) -> str | None:
        """The pair's last recorded error since its last success, if any."""
        error: str | None = await self.session.scalar(
            select(SyncState.last_error).where(
                SyncState.account_id == account_id, SyncState.family == str(family)
            )
        )
        return error
