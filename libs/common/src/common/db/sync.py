"""Sync state per (account, family), runs and page receipts.

The writer owns cursors, run progress and receipts; the scheduler records a run as queued when
its command is accepted by JetStream; the admin API flips ``enabled``. The pair's state and
fence in :mod:`common.db.sync_state`, runs and pages in :mod:`common.db.sync_runs`, the
operators' reads and switches in :mod:`common.db.sync_admin`, the writer's failure bookkeeping
in :mod:`common.db.sync_failures`; the tables and values in :mod:`common.db.sync_tables`.

Run times (queued, started, finished, updated, page commits) are stamped with the database's
clock, ``clock_timestamp()``, by whichever service writes them, and the stale rule compares them
with that clock too: one clock per deployment, whatever clock a service plans windows in
(docs/adr/0011-fencing.md). Each is taken by the last statements of its transaction, so it is
the moment the write commits, not the moment it began.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.sync_admin import RunQuery, SyncAdmin
from common.db.sync_failures import SyncFailures
from common.db.sync_runs import SyncRunsRepository
from common.db.sync_state import PagePair, SyncStateRepository
from common.db.sync_tables import (
    OPEN_RUN_STATUSES,
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

__all__ = [
    "OPEN_RUN_STATUSES",
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
    "SyncRunsRepository",
    "SyncSnapshotSeen",
    "SyncState",
    "SyncStateRepository",
]


class SyncRepository(SyncStateRepository, SyncRunsRepository, SyncAdmin, SyncFailures):
    """A pair's sync state and runs in one session, for the services that use several parts:
    the scheduler's and the writer's writes in :class:`SyncStateRepository` and
    :class:`SyncRunsRepository`, the writer's failure bookkeeping in :class:`SyncFailures`, the
    operators' reads and switches in :class:`SyncAdmin`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
