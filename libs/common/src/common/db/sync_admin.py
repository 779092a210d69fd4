"""The operators' side of :class:`common.db.sync.SyncRepository` (which inherits it): what the
admin API and ``ebaysync status`` read (states, runs, pages) and the switches they flip
(enable, cursor reset, resume)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.sync_tables import (
    SyncPage,
    SyncRun,
    SyncState,
)
from common.families import Family


class SyncAdmin:
    session: AsyncSession

    async def get_run(self, run_id: UUID) -> SyncRun | None:
        return await self.session.get(SyncRun, run_id, populate_existing=True)

    async def states_for_account(self, account_id: int) -> Sequence[SyncState]:
        result = await self.session.scalars(
            select(SyncState).where(SyncState.account_id == account_id).order_by(SyncState.family)
        )
        return result.all()

    async def latest_runs_for_account(self, account_id: int) -> dict[str, SyncRun]:
        result = await self.session.scalars(
            select(SyncRun)
            .where(SyncRun.account_id == account_id)
            .ext(distinct_on(SyncRun.family))
            .order_by(SyncRun.family, SyncRun.updated_at.desc())
        )
        return {run.family: run for run in result.all()}

    async def get_state(self, account_id: int, family: Family) -> SyncState | None:
        return await self.session.get(SyncState, (account_id, str(family)), populate_existing=True)

    # --- admin API -------------------------------------------------------------------------

    async def set_enabled(
        self, account_id: int, family: Family, enabled: bool, now: datetime
    ) -> SyncState:
        """Enable or disable one worker; creates its state row if it has none yet."""
        stmt = insert(SyncState).values(
            account_id=account_id, family=str(family), enabled=enabled, updated_at=now
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[SyncState.account_id, SyncState.family],
                # Enabled again: the scheduler looks at it at its next tick.
                set_={"enabled": enabled, "updated_at": now, "due_at": None},
            )
        )
        state = await self.get_state(account_id, family)
        assert state is not None
        return state

    async def reset_cursor(
        self, account_id: int, family: Family, cursor: datetime, now: datetime
    ) -> None:
        """Move the pair's cursor to ``cursor``, back if need be, and lift its pause (repair).

        The only way back: the database refuses it unless the transaction says it repairs
        (migration 0018); the rest of this transaction may move cursors back too.
        """
        await self.session.execute(text("SET LOCAL ebaysync.cursor_repair = 'on'"))
        await self.session.execute(
            text(
                """
                INSERT INTO sync_state (account_id, family, cursor, updated_at)
                VALUES (:account_id, :family, :cursor, :now)
                ON CONFLICT (account_id, family) DO UPDATE SET
                    cursor = EXCLUDED.cursor, paused_until = NULL, consecutive_failures = 0,
                    due_at = NULL, updated_at = EXCLUDED.updated_at
                """
            ),
            {"account_id": account_id, "family": str(family), "cursor": cursor, "now": now},
        )

    async def resume(self, account_id: int, family: Family, now: datetime) -> None:
        """Lift a worker's pause (circuit breaker) and forget its failure streak."""
        await self.session.execute(
            text(
                "UPDATE sync_state SET paused_until = NULL, consecutive_failures = 0, "
                "due_at = NULL, updated_at = :now "
                "WHERE account_id = :account_id AND family = :family"
            ),
            {"account_id": account_id, "family": str(family), "now": now},
        )

    async def states_for_accounts(
        self, account_ids: Sequence[int]
    ) -> dict[tuple[int, str], SyncState]:
        result = await self.session.scalars(
            select(SyncState)
            .where(SyncState.account_id.in_(list(account_ids)))
            .execution_options(populate_existing=True)
        )
        return {(s.account_id, s.family): s for s in result.all()}

    async def latest_runs_for_accounts(
        self, account_ids: Sequence[int]
    ) -> dict[tuple[int, str], SyncRun]:
        """The newest run of every (account, family) pair of the given accounts."""
        result = await self.session.scalars(
            select(SyncRun)
            .where(SyncRun.account_id.in_(list(account_ids)))
            .ext(distinct_on(SyncRun.account_id, SyncRun.family))
            .order_by(SyncRun.account_id, SyncRun.family, SyncRun.updated_at.desc())
            .execution_options(populate_existing=True)
        )
        return {(r.account_id, r.family): r for r in result.all()}

    async def list_runs(self, account_ids: Sequence[int], query: RunQuery) -> list[SyncRun]:
        """Runs of the given accounts, newest first, filtered."""
        started = func.coalesce(SyncRun.queued_at, SyncRun.started_at, SyncRun.updated_at)
        stmt = select(SyncRun).where(SyncRun.account_id.in_(list(account_ids)))
        if query.family is not None:
            stmt = stmt.where(SyncRun.family == query.family)
        if query.status is not None:
            stmt = stmt.where(SyncRun.status == query.status)
        if query.trigger is not None:
            stmt = stmt.where(SyncRun.trigger == query.trigger)
        if query.since is not None:
            stmt = stmt.where(started >= query.since)
        if query.until is not None:
            stmt = stmt.where(started < query.until)
        result = await self.session.scalars(
            stmt.order_by(started.desc(), SyncRun.run_id)
            .limit(query.limit)
            .offset(query.offset)
            .execution_options(populate_existing=True)
        )
        return list(result.all())

    async def pages_for_run(self, run_id: UUID) -> Sequence[SyncPage]:
        result = await self.session.scalars(
            select(SyncPage)
            .where(SyncPage.run_id == run_id)
            .order_by(SyncPage.page_no)
            .execution_options(populate_existing=True)
        )
        return result.all()


@dataclass(frozen=True)
class RunQuery:
    """Filters of the runs history (all optional) and the page of it to return."""

    family: str | None = None
    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0
