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
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base
from common.families import Family, families_of
from common.messages import RunMessage


class RunStatus:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Superseded by a newer run of its pair after it stopped moving: its late pages are refused.
    STALE = "stale"
    # Stopped by an operator: its fetcher stops at the next page; it never moves the cursor.
    CANCELLED = "cancelled"
    OPEN = (QUEUED, RUNNING)


class SyncState(Base):
    __tablename__ = "sync_state"

    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"), primary_key=True)
    family: Mapped[str] = mapped_column(String, primary_key=True)
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    cursor: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_run_id: Mapped[UUID | None]
    last_error: Mapped[str | None]
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    paused_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SyncFence(Base):
    """The fencing number of the pair's newest run (docs/adr/0011-fencing.md).

    A row apart from ``sync_state``: page transactions hold it in SHARE mode, so pages of one
    run commit in parallel while the run's last page updates the cursor's row.
    """

    __tablename__ = "sync_fences"

    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"), primary_key=True)
    family: Mapped[str] = mapped_column(String, primary_key=True)
    fence: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class SyncRun(Base):
    __tablename__ = "sync_runs"
    # Runs are looked up newest first per pair by the scheduler and the admin API.
    __table_args__ = (Index("ix_sync_runs_pair_updated", "account_id", "family", "updated_at"),)

    run_id: Mapped[UUID] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"))
    family: Mapped[str]
    trigger: Mapped[str]
    window_from: Mapped[datetime | None]
    window_to: Mapped[datetime]
    status: Mapped[str]
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    pages_written: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    pages_expected: Mapped[int | None] = mapped_column(Integer)
    rows_received: Mapped[int] = mapped_column(server_default=text("0"))
    rows_inserted: Mapped[int] = mapped_column(server_default=text("0"))
    rows_changed: Mapped[int] = mapped_column(server_default=text("0"))
    rows_unchanged: Mapped[int] = mapped_column(server_default=text("0"))
    trace_id: Mapped[str | None]
    error: Mapped[str | None]
    # Snapshot families: whether the fetch enumerated everything (set with the last page).
    snapshot_complete: Mapped[bool | None]
    # Who queued it by hand (run now, repair); None for the scheduler.
    requested_by: Mapped[str | None]
    fence: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class SyncSnapshotSeen(Base):
    """The entities a snapshot run has written so far; dropped when the run completes."""

    __tablename__ = "sync_snapshot_seen"

    run_id: Mapped[UUID] = mapped_column(primary_key=True)
    entity_id: Mapped[str] = mapped_column(primary_key=True)


class SyncPage(Base):
    """The receipt of one written page: its existence makes a redelivered page a no-op."""

    __tablename__ = "sync_pages"

    run_id: Mapped[UUID] = mapped_column(ForeignKey("sync_runs.run_id"), primary_key=True)
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime]
    trace_id: Mapped[str | None]


@dataclass(frozen=True)
class PairState:
    """What the scheduler needs to know about one (account, family) pair."""

    account_id: int
    family: Family
    enabled: bool
    cursor: datetime | None
    paused_until: datetime | None
    last_success_at: datetime | None
    in_flight: bool


@dataclass(frozen=True)
class RunProgress:
    pages_written: int
    pages_expected: int | None
    status: str
    snapshot_complete: bool | None = None

    @property
    def is_complete(self) -> bool:
        return self.pages_expected is not None and self.pages_written >= self.pages_expected


@dataclass(frozen=True)
class PageCounts:
    records: int
    inserted: int
    changed: int

    @property
    def unchanged(self) -> int:
        return self.records - self.inserted - self.changed


class SyncRepository:
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
        await self.session.execute(
            text(
                "UPDATE sync_fences SET fence = GREATEST(fence, :fence) "
                "WHERE account_id = :account_id AND family = :family"
            ),
            {"account_id": run.account_id, "family": str(run.family), "fence": run.fence},
        )
        await self.session.execute(
            text(
                """
                UPDATE sync_runs SET status = 'stale', finished_at = clock_timestamp(),
                       updated_at = clock_timestamp(),
                       error = 'stale fence: superseded by run ' || CAST(:run_id AS text)
                WHERE account_id = :account_id AND family = :family
                  AND status IN ('queued', 'running') AND fence < :fence
                """
            ),
            {
                "account_id": run.account_id,
                "family": str(run.family),
                "fence": run.fence,
                "run_id": str(run.run_id),
            },
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
        params = {"account_id": account_id, "family": str(family)}
        select_fence = text(
            "SELECT fence FROM sync_fences WHERE account_id = :account_id AND family = :family "
            "FOR SHARE"
        )
        fence = await self.session.scalar(select_fence, params)
        if fence is None:  # a pair no scheduler has fenced yet (a page sent before fencing)
            await self._ensure_fence_row(account_id, family)
            fence = await self.session.scalar(select_fence, params)
        return int(fence)

    async def claim_page(self, run: RunMessage, page_no: int, trace_id: str | None) -> bool:
        """Take the page's receipt; False when the page was already written (a redelivery).

        The run row is created first so the receipt's foreign key holds; a concurrent writer
        holding the same page blocks on the receipt's primary key until it commits.
        """
        await self._insert_run(
            run, status=RunStatus.RUNNING, updated_at=func.clock_timestamp(), trace_id=trace_id
        )
        claimed = await self.session.execute(
            insert(SyncPage)
            .values(
                run_id=run.run_id,
                page_no=page_no,
                records=0,
                inserted=0,
                changed=0,
                unchanged=0,
                committed_at=func.clock_timestamp(),
                trace_id=trace_id,
            )
            .on_conflict_do_nothing(index_elements=[SyncPage.run_id, SyncPage.page_no])
            .returning(SyncPage.page_no)
        )
        return claimed.first() is not None

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
        """Store the page's counts and add them to the run; returns the run's progress."""
        await self.session.execute(
            text(
                """
                UPDATE sync_pages SET records = :records, inserted = :inserted,
                       changed = :changed, unchanged = :unchanged,
                       committed_at = clock_timestamp()
                WHERE run_id = :run_id AND page_no = :page_no
                """
            ),
            {
                "run_id": run_id,
                "page_no": page_no,
                "records": counts.records,
                "inserted": counts.inserted,
                "changed": counts.changed,
                "unchanged": counts.unchanged,
            },
        )
        # One atomic UPDATE: concurrent writers of the same run serialize on the row, so exactly
        # one of them sees the last outstanding page land.
        row = (
            await self.session.execute(
                text(
                    """
                    UPDATE sync_runs SET
                        pages_written = pages_written + 1,
                        pages_expected = coalesce(CAST(:page_count AS integer), pages_expected),
                        snapshot_complete = coalesce(CAST(:snapshot_complete AS boolean),
                                                     snapshot_complete),
                        rows_received = rows_received + :records,
                        rows_inserted = rows_inserted + :inserted,
                        rows_changed = rows_changed + :changed,
                        rows_unchanged = rows_unchanged + :unchanged,
                        status = CASE WHEN status = 'queued' THEN 'running' ELSE status END,
                        started_at = coalesce(started_at, clock_timestamp()),
                        trace_id = coalesce(trace_id, :trace_id),
                        updated_at = clock_timestamp()
                    WHERE run_id = :run_id
                    RETURNING pages_written, pages_expected, status, snapshot_complete
                    """
                ),
                {
                    "run_id": run_id,
                    "page_count": page_count,
                    "snapshot_complete": snapshot_complete,
                    "records": counts.records,
                    "inserted": counts.inserted,
                    "changed": counts.changed,
                    "unchanged": counts.unchanged,
                    "trace_id": trace_id,
                },
            )
        ).one()
        return RunProgress(row.pages_written, row.pages_expected, row.status, row.snapshot_complete)

    async def complete_run(self, run: RunMessage) -> datetime | None:
        """Mark the run succeeded and move the pair's cursor to the window's end.

        ``GREATEST`` keeps the cursor forward-only even when an older window (a manual re-run)
        completes after a newer one. Returns the cursor now in force.
        """
        await self.session.execute(
            text(
                "UPDATE sync_runs SET status = 'succeeded', finished_at = clock_timestamp(), "
                "updated_at = clock_timestamp(), error = NULL WHERE run_id = :run_id"
            ),
            {"run_id": run.run_id},
        )
        cursor_value = run.window_to
        row = (
            await self.session.execute(
                text(
                    """
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
                        updated_at = EXCLUDED.updated_at
                    RETURNING cursor
                    """
                ),
                {
                    "account_id": run.account_id,
                    "family": str(run.family),
                    "cursor": cursor_value,
                    "run_id": run.run_id,
                },
            )
        ).one()
        cursor: datetime | None = row.cursor
        return cursor

    # --- failures (writer: dead letters and the circuit breaker) ---------------------------

    async def fail_run(self, run: RunMessage, error: str) -> bool:
        """Mark the run failed (creating its row if need be); False if it already ended.

        Only the first dead letter of a run counts: a run that already failed or succeeded is
        left alone, so a redelivered dead letter changes nothing.
        """
        stmt = insert(SyncRun).values(
            run_id=run.run_id,
            account_id=run.account_id,
            family=str(run.family),
            trigger=str(run.trigger),
            window_from=run.window_from,
            window_to=run.window_to,
            status=RunStatus.FAILED,
            fence=run.fence,
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
            where=SyncRun.status.in_(RunStatus.OPEN),
        )
        changed = await self.session.execute(stmt.returning(SyncRun.run_id))
        return changed.first() is not None

    async def cancel_run(self, run_id: UUID, by: str) -> bool:
        """Mark an open run cancelled; False when it already ended (or does not exist)."""
        cancelled = await self.session.execute(
            text(
                "UPDATE sync_runs SET status = 'cancelled', error = :error, "
                "finished_at = clock_timestamp(), updated_at = clock_timestamp() "
                "WHERE run_id = :run_id AND status IN ('queued', 'running') RETURNING run_id"
            ),
            {"run_id": run_id, "error": f"cancelled by {by}"},
        )
        return cancelled.first() is not None

    async def record_failure(
        self, account_id: int, family: Family, error: str, now: datetime
    ) -> int:
        """Count one more failure of the pair in a row; returns how many there are now.

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

    # --- readers ---------------------------------------------------------------------------

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
                set_={"enabled": enabled, "updated_at": now},
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
                    updated_at = EXCLUDED.updated_at
                """
            ),
            {"account_id": account_id, "family": str(family), "cursor": cursor, "now": now},
        )

    async def resume(self, account_id: int, family: Family, now: datetime) -> None:
        """Lift a worker's pause (circuit breaker) and forget its failure streak."""
        await self.session.execute(
            text(
                "UPDATE sync_state SET paused_until = NULL, consecutive_failures = 0, "
                "updated_at = :now WHERE account_id = :account_id AND family = :family"
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
