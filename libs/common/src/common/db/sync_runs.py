"""Sync runs and page receipts: the scheduler records runs as queued when JetStream accepts
their commands, the writer records pages and completes runs (moving the pair's cursor).

Run times are on the database clock (:mod:`common.db.sync` says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.sync_tables import (
    OPEN_SQL,
    PageCounts,
    RunProgress,
    RunStatus,
    SyncPage,
    SyncRun,
    run_identity,
)
from common.messages import RunMessage, Trigger


class SyncRunsRepository:
    """Runs queued (scheduler, operators) and their pages written and completed (writer)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- scheduler -------------------------------------------------------------------------

    async def record_queued_many(self, runs: Sequence[RunMessage], in_flight: timedelta) -> None:
        """:meth:`record_queued` for a tick's runs: one INSERT of every run, then their pairs'
        fences raised, older open runs marked stale, and each pair's due time set to when its
        run could turn stale (the run's end resets it sooner). The pairs' fence rows must be
        held (:meth:`take_fences`, same transaction)."""
        if not runs:
            return
        await self.session.execute(
            text(
                f"""
                INSERT INTO sync_runs (run_id, account_id, family, trigger, window_from,
                                       window_to, fence, status, queued_at, updated_at)
                SELECT u.*, '{RunStatus.QUEUED}', clock_timestamp(), clock_timestamp()
                FROM unnest(CAST(:run_ids AS uuid[]), CAST(:accounts AS bigint[]),
                            CAST(:families AS text[]), CAST(:triggers AS text[]),
                            CAST(:froms AS timestamptz[]), CAST(:tos AS timestamptz[]),
                            CAST(:fences AS bigint[]))
                    AS u(run_id, account_id, family, trigger, window_from, window_to, fence)
                ON CONFLICT (run_id) DO NOTHING
                """
            ),
            {
                "run_ids": [r.run_id for r in runs],
                "accounts": [r.account_id for r in runs],
                "families": [str(r.family) for r in runs],
                "triggers": [str(r.trigger) for r in runs],
                "froms": [r.window_from for r in runs],
                "tos": [r.window_to for r in runs],
                "fences": [r.fence for r in runs],
            },
        )
        await self._advance_fences(runs)
        await self.session.execute(
            text(
                """
                UPDATE sync_state s SET due_at = clock_timestamp() + make_interval(secs => :wait)
                FROM unnest(CAST(:accounts AS bigint[]), CAST(:families AS text[]))
                    AS u(account_id, family)
                WHERE s.account_id = u.account_id AND s.family = u.family
                """
            ),
            {
                "wait": in_flight.total_seconds(),
                "accounts": [r.account_id for r in runs],
                "families": [str(r.family) for r in runs],
            },
        )

    async def record_queued(self, run: RunMessage, requested_by: str | None = None) -> None:
        """Record the run as queued and as its pair's newest: older open runs of the pair are
        marked stale in the same transaction, so a pair never has two open runs."""
        # The writer may already have created the run if the pipeline outran us.
        await self._insert_run(
            run,
            status=RunStatus.QUEUED,
            queued_at=func.clock_timestamp(),
            updated_at=func.clock_timestamp(),
        )
        if requested_by is not None:
            await self.session.execute(
                text("UPDATE sync_runs SET requested_by = :who WHERE run_id = :run_id"),
                {"who": requested_by, "run_id": run.run_id},
            )
        await self.advance_fence(run)

    async def advance_fence(self, run: RunMessage) -> None:
        """Make ``run`` the pair's newest run: raise the pair's fence to the run's and mark the
        pair's older open runs stale (their late pages are refused from now on)."""
        await self._advance_fences([run])

    async def _advance_fences(self, runs: Sequence[RunMessage]) -> None:
        """:meth:`advance_fence` for many runs (of distinct pairs), in two statements."""
        params = {
            "accounts": [r.account_id for r in runs],
            "families": [str(r.family) for r in runs],
            "fences": [r.fence for r in runs],
            "run_ids": [str(r.run_id) for r in runs],
        }
        newest = (
            "unnest(CAST(:accounts AS bigint[]), CAST(:families AS text[]), "
            "CAST(:fences AS bigint[]), CAST(:run_ids AS text[])) "
            "AS u(account_id, family, fence, run_id)"
        )
        await self.session.execute(
            text(
                f"UPDATE sync_fences f SET fence = GREATEST(f.fence, u.fence) FROM {newest} "
                "WHERE f.account_id = u.account_id AND f.family = u.family"
            ),
            params,
        )
        await self.session.execute(
            text(
                f"""
                UPDATE sync_runs r SET status = '{RunStatus.STALE}',
                       finished_at = clock_timestamp(), updated_at = clock_timestamp(),
                       error = 'stale fence: superseded by run ' || u.run_id
                FROM {newest}
                WHERE r.account_id = u.account_id AND r.family = u.family
                  AND r.status IN ({OPEN_SQL}) AND r.fence < u.fence
                """
            ),
            params,
        )

    async def _insert_run(self, run: RunMessage, **values: object) -> None:
        """Create the run's row unless it exists."""
        stmt = insert(SyncRun).values(**run_identity(run), **values)
        await self.session.execute(stmt.on_conflict_do_nothing(index_elements=[SyncRun.run_id]))

    # --- writer ----------------------------------------------------------------------------

    async def claim_page(self, run: RunMessage, page_no: int, trace_id: str | None) -> bool:
        """Take the page's receipt; False when the page was already written (a redelivery).

        The run row is created in the same statement (a CTE) so the receipt's foreign key
        holds; a concurrent writer holding the same page blocks on the receipt's primary key
        until it commits.
        """
        claimed = await self.session.execute(_CLAIM_PAGE, _run_params(run, page_no, trace_id))
        return claimed.first() is not None

    async def claim_empty_page(
        self,
        run: RunMessage,
        page_no: int,
        page_count: int | None,
        trace_id: str | None,
        snapshot_complete: bool | None = None,
    ) -> RunProgress | None:
        """:meth:`claim_page` and :meth:`record_page` of a page without records, in one
        statement: the receipt (with its zero counts) and the run's progress — the run row
        created if the scheduler has not recorded it yet. None when the page was already
        written (a redelivery: nothing changes)."""
        params = _run_params(run, page_no, trace_id) | _progress_params(
            run.run_id, PageCounts(0, 0, 0), page_count, trace_id, snapshot_complete
        )
        row = (await self.session.execute(_CLAIM_EMPTY_PAGE, params)).first()
        if row is None:
            return None
        return RunProgress(row.pages_written, row.pages_expected, row.status, row.snapshot_complete)

    async def has_page(self, run_id: UUID, page_no: int) -> bool:
        """Whether the page's receipt exists (it was written before)."""
        found = await self.session.scalar(
            select(SyncPage.page_no).where(SyncPage.run_id == run_id, SyncPage.page_no == page_no)
        )
        return found is not None

    async def record_page(
        self,
        run_id: UUID,
        page_no: int,
        counts: PageCounts,
        page_count: int | None,
        trace_id: str | None,
        snapshot_complete: bool | None = None,
    ) -> RunProgress:
        """Store the page's counts and add them to the run (one statement); returns the run's
        progress."""
        params = _progress_params(run_id, counts, page_count, trace_id, snapshot_complete)
        params["page_no"] = page_no
        row = (await self.session.execute(_RECORD_PAGE, params)).one()
        return RunProgress(row.pages_written, row.pages_expected, row.status, row.snapshot_complete)

    async def complete_run(self, run: RunMessage) -> datetime | None:
        """Mark the run succeeded and move the pair's cursor to the window's end (one
        statement).

        ``GREATEST`` keeps the cursor forward-only even when an older window (a manual re-run)
        completes after a newer one. The pair's due time is reset, so the scheduler looks at it
        at its next tick (catch-up goes out at once). Returns the cursor now in force.
        """
        row = (
            await self.session.execute(
                _COMPLETE_RUN,
                {
                    "account_id": run.account_id,
                    "family": str(run.family),
                    "cursor": run.window_to,
                    "run_id": run.run_id,
                },
            )
        ).one()
        cursor: datetime | None = row.cursor
        return cursor

    async def complete_targeted_run(self, run: RunMessage) -> datetime | None:
        """Mark a targeted run (trigger ``notification``) succeeded, leaving the pair's state
        (cursor, due time, failures, last committed run) to polling: it read ids, not a time
        range, so it proves nothing about a span (docs/adr/0018-push-notifications.md).
        Returns the cursor as is."""
        row = (
            await self.session.execute(
                _COMPLETE_TARGETED_RUN,
                {"account_id": run.account_id, "family": str(run.family), "run_id": run.run_id},
            )
        ).one_or_none()
        return None if row is None else row.cursor


def _run_params(run: RunMessage, page_no: int, trace_id: str | None) -> dict[str, object]:
    return run_identity(run) | {"page_no": page_no, "trace_id": trace_id}


def _progress_params(
    run_id: UUID,
    counts: PageCounts,
    page_count: int | None,
    trace_id: str | None,
    snapshot_complete: bool | None,
) -> dict[str, object]:
    return {
        "run_id": run_id,
        "page_count": page_count,
        "snapshot_complete": snapshot_complete,
        "records": counts.records,
        "inserted": counts.inserted,
        "changed": counts.changed,
        "unchanged": counts.unchanged,
        "trace_id": trace_id,
    }


# The writer's statements, built once (a text() per call costs its coercion and cache key on
# every page). Each is one round trip; docs/adr on the writer's cost counts them.
_NEW_RUN_VALUES = f"""
    :run_id, :account_id, :family, :trigger, CAST(:window_from AS timestamptz),
    CAST(:window_to AS timestamptz), :fence, '{RunStatus.RUNNING}', clock_timestamp(), :trace_id"""

# The run row (unless it exists) and the receipt in one statement: the receipt's foreign key is
# checked at the statement's end, when the CTE's row is there.
_CLAIM_PAGE = text(
    f"""
    WITH run AS (
        INSERT INTO sync_runs (run_id, account_id, family, trigger, window_from, window_to,
                               fence, status, updated_at, trace_id)
        VALUES ({_NEW_RUN_VALUES})
        ON CONFLICT (run_id) DO NOTHING
    )
    INSERT INTO sync_pages (run_id, page_no, records, inserted, changed, unchanged,
                            committed_at, trace_id)
    VALUES (:run_id, :page_no, 0, 0, 0, 0, clock_timestamp(), :trace_id)
    ON CONFLICT (run_id, page_no) DO NOTHING
    RETURNING page_no
    """
)

# The run's progress; the same SET whether the page's counts come with its receipt or later.
# One atomic row update: concurrent writers of the same run serialize on the row, so exactly
# one of them sees the last outstanding page land.
_PROGRESS_SET = f"""
    pages_written = sync_runs.pages_written + 1,
    pages_expected = coalesce(CAST(:page_count AS integer), sync_runs.pages_expected),
    snapshot_complete = coalesce(CAST(:snapshot_complete AS boolean),
                                 sync_runs.snapshot_complete),
    rows_received = sync_runs.rows_received + :records,
    rows_inserted = sync_runs.rows_inserted + :inserted,
    rows_changed = sync_runs.rows_changed + :changed,
    rows_unchanged = sync_runs.rows_unchanged + :unchanged,
    status = CASE WHEN sync_runs.status = '{RunStatus.QUEUED}' THEN '{RunStatus.RUNNING}'
                  ELSE sync_runs.status END,
    started_at = coalesce(sync_runs.started_at, clock_timestamp()),
    trace_id = coalesce(sync_runs.trace_id, :trace_id),
    updated_at = clock_timestamp()"""
_PROGRESS_RETURNING = "RETURNING pages_written, pages_expected, status, snapshot_complete"

_RECORD_PAGE = text(
    f"""
    WITH receipt AS (
        UPDATE sync_pages SET records = :records, inserted = :inserted, changed = :changed,
               unchanged = :unchanged, committed_at = clock_timestamp()
        WHERE run_id = :run_id AND page_no = :page_no
    )
    UPDATE sync_runs SET {_PROGRESS_SET}
    WHERE run_id = :run_id
    {_PROGRESS_RETURNING}
    """
)

# An empty page: the receipt with its final counts, then the run created with this page as its
# first or its progress added — only if the receipt was new (a duplicate changes nothing). A
# concurrent duplicate blocks on the receipt's key until the first commits, then does nothing.
_CLAIM_EMPTY_PAGE = text(
    f"""
    WITH receipt AS (
        INSERT INTO sync_pages (run_id, page_no, records, inserted, changed, unchanged,
                                committed_at, trace_id)
        VALUES (:run_id, :page_no, 0, 0, 0, 0, clock_timestamp(), :trace_id)
        ON CONFLICT (run_id, page_no) DO NOTHING
        RETURNING page_no
    )
    INSERT INTO sync_runs (run_id, account_id, family, trigger, window_from,
                           window_to, fence, status, updated_at, trace_id,
                           pages_written, pages_expected, snapshot_complete, started_at)
    SELECT {_NEW_RUN_VALUES}, 1, CAST(:page_count AS integer),
           CAST(:snapshot_complete AS boolean), clock_timestamp()
    FROM receipt
    ON CONFLICT (run_id) DO UPDATE SET {_PROGRESS_SET}
    {_PROGRESS_RETURNING}
    """
)

# A run marked succeeded, in the same statement as what it does to its pair's state.
_RUN_SUCCEEDED = f"""
    WITH done AS (
        UPDATE sync_runs SET status = '{RunStatus.SUCCEEDED}', finished_at = clock_timestamp(),
               updated_at = clock_timestamp(), error = NULL
        WHERE run_id = :run_id
        RETURNING rows_inserted + rows_changed AS wrote, trigger
    )"""

_COMPLETE_TARGETED_RUN = text(
    f"""{_RUN_SUCCEEDED}
    SELECT cursor FROM sync_state WHERE account_id = :account_id AND family = :family
    """
)

# ``quiet_runs`` counts the pair's committed scheduled polls in a row that wrote nothing (no
# record new or changed; re-read overlaps are unchanged): the budget backs such a pair off
# (common.budget.backed_off), and one run that wrote something brings it back. Only a poll
# (trigger ``schedule``) says the account is idle now: a backfill's windows of empty months, a
# run-now or a repair that found nothing leave the count as it was. Counting them backed new
# quiet accounts off before their backfill's last window (the tail its overlaps leave) and
# left their newest hours unsynced for up to the family's worst staleness (issue 13).
_COMPLETE_RUN = text(
    f"""{_RUN_SUCCEEDED},
    quiet AS (
        SELECT CASE WHEN coalesce((SELECT wrote FROM done), 0) > 0 THEN 0
                    WHEN (SELECT trigger FROM done) = '{Trigger.SCHEDULE}' THEN 1
                    ELSE NULL END AS step
    )
    INSERT INTO sync_state (account_id, family, cursor, last_success_at,
                            last_run_id, consecutive_failures, updated_at, quiet_runs)
    VALUES (:account_id, :family, :cursor, clock_timestamp(), :run_id, 0,
            clock_timestamp(), coalesce((SELECT step FROM quiet), 0))
    ON CONFLICT (account_id, family) DO UPDATE SET
        quiet_runs = CASE (SELECT step FROM quiet) WHEN 0 THEN 0
                          WHEN 1 THEN sync_state.quiet_runs + 1
                          ELSE sync_state.quiet_runs END,
        cursor = GREATEST(sync_state.cursor, EXCLUDED.cursor),
        last_success_at = EXCLUDED.last_success_at,
        last_run_id = EXCLUDED.last_run_id,
        last_error = NULL,
        consecutive_failures = 0,
        paused_until = NULL,
        due_at = NULL,
        updated_at = EXCLUDED.updated_at
    RETURNING cursor
    """
)
