"""Sync state per (account, family), runs and page receipts.

The writer owns cursors, run progress and receipts; the scheduler records a run as queued when
its command is accepted by JetStream; the admin API flips ``enabled``.

Run times (queued, started, finished, updated, page commits) are stamped with the database's
clock, ``clock_timestamp()``, by whichever service writes them, and the stale rule compares them
with that clock too: one clock per deployment, whatever clock a service plans windows in
(docs/adr/0011-fencing.md). Each is taken by the last statements of its transaction, so it is
the moment the write commits, not the moment it began.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.sync_admin import RunQuery, SyncAdmin
from common.db.sync_failures import SyncFailures
from common.db.sync_tables import (
    DueTime,
    PageCounts,
    PairState,
    PlanCandidate,
    RunProgress,
    RunStatus,
    SyncFence,
    SyncPage,
    SyncRun,
    SyncSnapshotSeen,
    SyncState,
)
from common.families import Family, Purpose, families_of
from common.messages import RunMessage

__all__ = [
    "DueTime",
    "PageCounts",
    "PagePair",
    "PairState",
    "PlanCandidate",
    "RunProgress",
    "RunQuery",
    "RunStatus",
    "SyncAdmin",
    "SyncFailures",
    "SyncFence",
    "SyncPage",
    "SyncRepository",
    "SyncRun",
    "SyncSnapshotSeen",
    "SyncState",
]


class SyncRepository(SyncAdmin, SyncFailures):
    """One repository of a pair's sync state and runs: here the scheduler's and the writer's
    writes; the writer's failure bookkeeping in :class:`SyncFailures`; the operators' reads
    and switches in :class:`SyncAdmin`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- scheduler -------------------------------------------------------------------------

    async def pair_states(
        self, families: Sequence[Family], now: datetime, stale_after: timedelta
    ) -> list[PairState]:
        """Every syncable pair: active accounts that need no reauth, times the given families
        that the account's purpose syncs (``common.families.PURPOSE_FAMILIES``).

        A pair is in flight while it has a queued or running run that moved recently; a run
        that stopped moving for ``stale_after`` (by the database clock that stamped it) no
        longer blocks its pair, and the next run queued for the pair fences it off.

        A breaker's pause is also kept on the database clock; ``paused_until`` is returned
        rebased onto ``now`` (the planner's clock), and None once the pause is over.
        """
        rows = await self.session.execute(
            text(
                """
                SELECT a.id AS account_id, a.purpose, f.family,
                       coalesce(s.enabled, true) AS enabled,
                       s.cursor, s.last_success_at,
                       CASE WHEN s.paused_until > clock_timestamp()
                            THEN CAST(:now AS timestamptz) + (s.paused_until - clock_timestamp())
                       END AS paused_until,
                       EXISTS (SELECT 1 FROM sync_runs r
                               WHERE r.account_id = a.id AND r.family = f.family
                                 AND r.status IN ('queued', 'running')
                                 AND r.updated_at > clock_timestamp()
                                     - make_interval(secs => :stale_seconds)) AS in_flight
                FROM ebay_accounts a
                CROSS JOIN unnest(CAST(:families AS text[])) AS f(family)
                LEFT JOIN sync_state s ON s.account_id = a.id AND s.family = f.family
                WHERE a.active AND NOT a.needs_reauth
                ORDER BY a.id, f.family
                """
            ),
            {
                "families": [str(f) for f in families],
                "now": now,
                "stale_seconds": stale_after.total_seconds(),
            },
        )
        return [
            PairState(
                account_id=r.account_id,
                family=Family(r.family),
                enabled=r.enabled,
                cursor=r.cursor,
                paused_until=r.paused_until,
                last_success_at=r.last_success_at,
                in_flight=r.in_flight,
            )
            for r in rows
            if Family(r.family) in families_of(r.purpose)
        ]

    async def database_now(self) -> datetime:
        """The database clock (run times, pauses, stale rule and stored due times use it)."""
        now: datetime = await self.session.scalar(text("SELECT clock_timestamp()"))
        return now

    async def pairs_to_plan(
        self,
        families: Sequence[Family],
        now: datetime,
        stale_after: timedelta,
        *,
        every_pair: bool,
        paused_orgs: Sequence[int] = (),
    ) -> list[PlanCandidate]:
        """The pairs a tick must plan: those whose stored due time (``sync_state.due_at``, by
        the database clock) has come or was reset, and those without a state row yet (a new
        account or family); with ``every_pair``, every syncable pair (as :meth:`pair_states`).

        Syncable: active accounts that need no reauth and whose org is not paused, times the
        given families that the account's purpose syncs. In flight, ``paused_until`` and
        ``in_flight_until`` as in :meth:`pair_states` (rebased onto ``now``). Set-based: a
        tick reads only what can be due, through ``ix_sync_state_due_at`` and the small
        ``ix_sync_runs_open`` index, however many pairs there are.
        """
        wanted = {str(f) for f in families}
        purposes, purpose_families = [], []
        for purpose in Purpose:
            for family in sorted(wanted & {str(f) for f in families_of(purpose)}):
                purposes.append(str(purpose))
                purpose_families.append(family)
        syncable = "a.active AND NOT a.needs_reauth AND a.org_id <> ALL(CAST($5 AS bigint[]))"
        # Each branch joins the purpose's families once (a second join would make PostgreSQL
        # expect one row and probe each pair instead of hashing).
        due = (
            f"""
            SELECT a.id AS account_id, pf.family
            FROM ebay_accounts a JOIN purpose_family pf ON pf.purpose = a.purpose
            WHERE {syncable}
            """
            if every_pair
            else f"""
            SELECT s.account_id, s.family
            FROM sync_state s
            JOIN ebay_accounts a ON a.id = s.account_id
            JOIN purpose_family pf ON pf.purpose = a.purpose AND pf.family = s.family
            WHERE (s.due_at IS NULL OR s.due_at <= clock_timestamp()) AND {syncable}
            UNION ALL
            SELECT a.id, pf.family
            FROM ebay_accounts a JOIN purpose_family pf ON pf.purpose = a.purpose
            WHERE {syncable}
              AND NOT EXISTS (SELECT 1 FROM sync_state s
                              WHERE s.account_id = a.id AND s.family = pf.family)
            """
        )
        sql = f"""
            WITH purpose_family AS (
                SELECT * FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]))
                    AS pf(purpose, family)),
            due AS ({due}),
            pairs AS (
                SELECT d.account_id, d.family, s.enabled, s.cursor, s.last_success_at,
                       s.paused_until, s.xmin AS row_version, s.due_at,
                       -- the pair's newest open run that moved recently (the small partial
                       -- index ix_sync_runs_open, one probe per pair)
                       (SELECT max(r.updated_at) FROM sync_runs r
                        WHERE r.account_id = d.account_id AND r.family = d.family
                          AND r.status IN ('queued', 'running')
                          AND r.updated_at > clock_timestamp()
                              - make_interval(secs => $4)) AS moved_at
                FROM due d
                LEFT JOIN sync_state s ON s.account_id = d.account_id AND s.family = d.family)
            SELECT account_id, family, coalesce(enabled, true), cursor, last_success_at,
                   CASE WHEN paused_until > clock_timestamp()
                        THEN CAST($3 AS timestamptz) + (paused_until - clock_timestamp())
                   END,
                   moved_at IS NOT NULL,
                   CAST($3 AS timestamptz) + (moved_at - clock_timestamp())
                       + make_interval(secs => $4),
                   CAST(row_version AS text), due_at
            FROM pairs
            """
        # Straight from the driver: a full plan reads every pair, and SQLAlchemy's row
        # processing would be most of its cost.
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        rows = await driver.fetch(
            sql, purposes, purpose_families, now, stale_after.total_seconds(), list(paused_orgs)
        )
        family_of = {str(f): f for f in families}
        return [
            PlanCandidate(
                PairState(r[0], family_of[r[1]], r[2], r[3], r[5], r[4], r[6], r[7]), r[8], r[9]
            )
            for r in rows
        ]

    async def store_due_times(self, due: Sequence[DueTime], now: datetime, db_now: datetime) -> int:
        """Store when the scheduler next looks at each pair (``due`` in the planner's clock
        ``now``, which was ``db_now`` by the database clock; None: in a day, unless something
        resets it first). One statement.

        Compare-and-set on the row version read with the pair (``xmin``): a pair whose row
        changed since (its run completed, an operator enabled it) keeps its reset and is
        planned at the next tick. Returns how many were stored.
        """
        if not due:
            return 0
        result = await self.session.execute(
            text(
                """
                UPDATE sync_state s
                SET due_at = CAST(:db_now AS timestamptz)
                             + coalesce(u.due - CAST(:now AS timestamptz), interval '1 day')
                FROM unnest(CAST(:accounts AS bigint[]), CAST(:families AS text[]),
                            CAST(:versions AS text[]), CAST(:dues AS timestamptz[]))
                    AS u(account_id, family, version, due)
                WHERE s.account_id = u.account_id AND s.family = u.family
                  AND CAST(s.xmin AS text) = u.version
                """
            ),
            {
                "now": now,
                "db_now": db_now,
                "accounts": [d.account_id for d in due],
                "families": [str(d.family) for d in due],
                "versions": [d.version for d in due],
                "dues": [d.due for d in due],
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def take_fences(self, pairs: Sequence[tuple[int, Family]]) -> dict[tuple[int, str], int]:
        """:meth:`take_fence` for many pairs in two statements: a new fencing number for each
        pair not being written right now (the others are left out: next tick)."""
        if not pairs:
            return {}
        params = {
            "accounts": [a for a, _ in pairs],
            "families": [str(f) for _, f in pairs],
        }
        await self.session.execute(
            text(
                "INSERT INTO sync_fences (account_id, family) "
                "SELECT * FROM unnest(CAST(:accounts AS bigint[]), CAST(:families AS text[])) "
                "ON CONFLICT (account_id, family) DO NOTHING"
            ),
            params,
        )
        rows = await self.session.execute(
            text(
                "SELECT account_id, family, nextval('sync_fence') AS fence FROM sync_fences "
                "WHERE (account_id, family) IN (SELECT * FROM unnest("
                "CAST(:accounts AS bigint[]), CAST(:families AS text[]))) "
                "FOR NO KEY UPDATE SKIP LOCKED"
            ),
            params,
        )
        return {(r.account_id, r.family): int(r.fence) for r in rows}

    async def record_queued_many(self, runs: Sequence[RunMessage], in_flight: timedelta) -> None:
        """:meth:`record_queued` for a tick's runs: one INSERT of every run, then their pairs'
        fences raised, older open runs marked stale, and each pair's due time set to when its
        run could turn stale (the run's end resets it sooner). The pairs' fence rows must be
        held (:meth:`take_fences`, same transaction)."""
        if not runs:
            return
        await self.session.execute(
            text(
                """
                INSERT INTO sync_runs (run_id, account_id, family, trigger, window_from,
                                       window_to, fence, status, queued_at, updated_at)
                SELECT u.*, 'queued', clock_timestamp(), clock_timestamp()
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

    async def take_fence(self, account_id: int, family: Family) -> int | None:
        """A new fencing number for a run of the pair, or None while a page of the pair is being
        written (the pair is busy: try at the next tick).

        Holds the pair's fence row until the transaction ends, so no page of the pair commits
        between this and :meth:`record_queued`: queue the run in the same transaction.
        """
        await self._ensure_fence_row(account_id, family)
        # SKIP LOCKED: a writer holding the row may be stalled for minutes (a paused process);
        # waiting for it would stall every other pair's scheduling with it.
        locked = await self.session.scalar(
            text(
                "SELECT nextval('sync_fence') FROM sync_fences "
                "WHERE account_id = :account_id AND family = :family "
                "FOR NO KEY UPDATE SKIP LOCKED"
            ),
            {"account_id": account_id, "family": str(family)},
        )
        return None if locked is None else int(locked)

    async def _ensure_fence_row(self, account_id: int, family: Family) -> None:
        await self.session.execute(
            text(
                "INSERT INTO sync_fences (account_id, family) VALUES (:account_id, :family) "
                "ON CONFLICT (account_id, family) DO NOTHING"
            ),
            {"account_id": account_id, "family": str(family)},
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
                UPDATE sync_runs r SET status = 'stale', finished_at = clock_timestamp(),
                       updated_at = clock_timestamp(),
                       error = 'stale fence: superseded by run ' || u.run_id
                FROM {newest}
                WHERE r.account_id = u.account_id AND r.family = u.family
                  AND r.status IN ('queued', 'running') AND r.fence < u.fence
                """
            ),
            params,
        )

    async def _insert_run(self, run: RunMessage, **values: object) -> None:
        """Create the run's row unless it exists."""
        stmt = insert(SyncRun).values(
            run_id=run.run_id,
            account_id=run.account_id,
            family=str(run.family),
            trigger=str(run.trigger),
            window_from=run.window_from,
            window_to=run.window_to,
            fence=run.fence,
            **values,
        )
        await self.session.execute(stmt.on_conflict_do_nothing(index_elements=[SyncRun.run_id]))

    # --- writer ----------------------------------------------------------------------------

    async def lock_pair(self, account_id: int, family: Family) -> int:
        """Hold the pair's fence row (SHARE) for the page's transaction; returns the fence.

        The first statement of every page transaction: the fence read here cannot change
        (:meth:`take_fence` skips a row held in any mode) until the page commits, while pages
        of the same pair still commit side by side.
        """
        locked = await self.lock_page_pair(account_id, family)
        assert locked is not None, f"account {account_id} does not exist"
        return locked.fence

    async def lock_page_pair(self, account_id: int, family: Family) -> PagePair | None:
        """:meth:`lock_pair` and the account's ``active`` flag in one round trip; None when
        the account does not exist (then no fence row is created: it would name no account)."""
        params = {"account_id": account_id, "family": str(family)}
        row = (await self.session.execute(_LOCK_PAGE_PAIR, params)).first()
        if row is None:
            return None
        if row.fence is None:  # a pair no scheduler has fenced yet (a page sent before fencing)
            await self._ensure_fence_row(account_id, family)
            row = (await self.session.execute(_LOCK_PAGE_PAIR, params)).one()
        return PagePair(fence=int(row.fence), account_active=bool(row.active))

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
        (cursor, due time, failures) to polling: it read ids, not a time range, so it proves
        nothing about a span (docs/adr/0018-push-notifications.md). Returns the cursor as is."""
        row = (
            await self.session.execute(
                _COMPLETE_TARGETED_RUN,
                {"account_id": run.account_id, "family": str(run.family), "run_id": run.run_id},
            )
        ).one_or_none()
        return None if row is None else row.cursor


@dataclass(frozen=True)
class PagePair:
    """What a page's transaction learns with its first statement."""

    fence: int
    account_active: bool


def _run_params(run: RunMessage, page_no: int, trace_id: str | None) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "account_id": run.account_id,
        "family": str(run.family),
        "trigger": str(run.trigger),
        "window_from": run.window_from,
        "window_to": run.window_to,
        "fence": run.fence,
        "page_no": page_no,
        "trace_id": trace_id,
    }


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

# A locking clause in a scalar subquery: no row when the account does not exist, a NULL fence
# when the pair has no fence row yet.
_LOCK_PAGE_PAIR = text(
    """
    SELECT a.active,
           (SELECT f.fence FROM sync_fences f
            WHERE f.account_id = :account_id AND f.family = :family FOR SHARE) AS fence
    FROM ebay_accounts a WHERE a.id = :account_id
    """
)

_NEW_RUN_VALUES = """
    :run_id, :account_id, :family, :trigger, CAST(:window_from AS timestamptz),
    CAST(:window_to AS timestamptz), :fence, 'running', clock_timestamp(), :trace_id"""

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
_PROGRESS_SET = """
    pages_written = sync_runs.pages_written + 1,
    pages_expected = coalesce(CAST(:page_count AS integer), sync_runs.pages_expected),
    snapshot_complete = coalesce(CAST(:snapshot_complete AS boolean),
                                 sync_runs.snapshot_complete),
    rows_received = sync_runs.rows_received + :records,
    rows_inserted = sync_runs.rows_inserted + :inserted,
    rows_changed = sync_runs.rows_changed + :changed,
    rows_unchanged = sync_runs.rows_unchanged + :unchanged,
    status = CASE WHEN sync_runs.status = 'queued' THEN 'running' ELSE sync_runs.status END,
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

_COMPLETE_TARGETED_RUN = text(
    """
    WITH done AS (
        UPDATE sync_runs SET status = 'succeeded', finished_at = clock_timestamp(),
               updated_at = clock_timestamp(), error = NULL
        WHERE run_id = :run_id
    )
    SELECT cursor FROM sync_state WHERE account_id = :account_id AND family = :family
    """
)

_COMPLETE_RUN = text(
    """
    WITH done AS (
        UPDATE sync_runs SET status = 'succeeded', finished_at = clock_timestamp(),
               updated_at = clock_timestamp(), error = NULL
        WHERE run_id = :run_id
    )
    INSERT INTO sync_state (account_id, family, cursor, last_success_at,
                            last_run_id, consecutive_failures, updated_at)
    VALUES (:account_id, :family, :cursor, clock_timestamp(), :run_id, 0,
            clock_timestamp())
    ON CONFLICT (account_id, family) DO UPDATE SET
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
