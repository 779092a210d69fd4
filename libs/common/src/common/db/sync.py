"""Sync state per (account, family), runs and page receipts.

The writer owns cursors, run progress and receipts; the scheduler records a run as queued when
its command is accepted by JetStream; the admin API flips ``enabled``. The pair's state and
fence in :mod:`common.db.sync_state`, runs and pages in :mod:`common.db.sync_runs`, the
operators' reads and switches in :mod:`common.db.sync_admin`, the writer's failure bookkeeping
in :mod:`common.db.sync_failures`; the tables and values in :mod:`common.db.sync_tables`.
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
