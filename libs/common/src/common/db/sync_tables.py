"""Sync state per (account, family), runs, fences and page receipts: the tables, run statuses
and the values the repositories return (common.db.sync and its parts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base
from common.families import Family
from common.messages import RunMessage


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Superseded by a newer run of its pair after it stopped moving: its late pages are refused.
    STALE = "stale"
    # Stopped by an operator: its fetcher stops at the next page; it never moves the cursor.
    CANCELLED = "cancelled"


# A run not ended yet: it blocks its pair (while it moves) and can still take pages.
OPEN_RUN_STATUSES: tuple[RunStatus, ...] = (RunStatus.QUEUED, RunStatus.RUNNING)
# The same in SQL, as literals: the partial index ix_sync_runs_open is matched on them (a bound
# parameter would not let the planner prove a query's predicate implies the index's).
OPEN_SQL = ", ".join(f"'{status}'" for status in OPEN_RUN_STATUSES)


class SyncState(Base):
    __tablename__ = "sync_state"
    # The scheduler reads only the pairs whose due time has come (issue 12).
    __table_args__ = (Index("ix_sync_state_due_at", "due_at"),)

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
    # When the scheduler next needs to look at the pair, by the database clock; NULL: now.
    # The scheduler sets it from ``common.scheduling.recheck_at``; whatever can make the pair
    # due sooner (a run ending, an operator's enable, resume or repair) sets it back to NULL.
    due_at: Mapped[datetime | None]
    # Consecutive committed runs that wrote no record: the budget backs the pair off by it
    # (common.budget.backed_off); the writer counts it where runs complete (db.sync_runs).
    quiet_runs: Mapped[int] = mapped_column(Integer, server_default=text("0"))


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
    # Runs are looked up newest first per pair by the scheduler and the admin API; the open
    # ones (a few per pair in flight) have their own small index for the scheduler's tick.
    __table_args__ = (
        Index("ix_sync_runs_pair_updated", "account_id", "family", "updated_at"),
        Index(
            "ix_sync_runs_open",
            "account_id",
            "family",
            "updated_at",
            postgresql_where=text(f"status IN ({OPEN_SQL})"),
        ),
    )

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
    # When the open run stops blocking the pair if it does not move (the stale rule), in the
    # planner's clock; None when nothing is in flight or the caller does not know.
    in_flight_until: datetime | None = None
    # Consecutive committed runs that wrote nothing (the budget's per-pair backoff).
    quiet_runs: int = 0


@dataclass(frozen=True, slots=True)
class PlanCandidate:
    """A pair a tick plans, with its state row's version (``xmin``; None: no row yet) and its
    stored due time (database clock)."""

    pair: PairState
    version: str | None
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueTime:
    """When the scheduler next looks at a pair (planner's clock; None: not before a change)."""

    account_id: int
    family: Family
    version: str
    due: datetime | None


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


def run_identity(run: RunMessage) -> dict[str, object]:
    """The run row's values its command fixes: every statement that may create the row sets
    them (the scheduler's queueing, the writer's first page, a dead letter's failure)."""
    return {
        "run_id": run.run_id,
        "account_id": run.account_id,
        "family": str(run.family),
        "trigger": str(run.trigger),
        "window_from": run.window_from,
        "window_to": run.window_to,
        "fence": run.fence,
    }
