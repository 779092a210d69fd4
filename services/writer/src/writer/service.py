"""Writes one page batch in one transaction and completes its run when it is the last one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.orders import OrderRepository
from common.db.sync import PageCounts, SyncRepository
from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import PageBatch, WindowCompleted
from writer.domain import map_order

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteResult:
    duplicate: bool
    counts: PageCounts | None = None
    completed: WindowCompleted | None = None


class UnsupportedFamilyError(ValueError):
    pass


class PageWriter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def write(self, page: PageBatch, trace_id: str | None) -> WriteResult:
        """Upsert the page's rows, its receipt, the run's progress and — last — the cursor.

        All in one transaction: a crash anywhere leaves nothing half-written, and a redelivered
        page finds its receipt and changes nothing.
        """
        now = self._clock()
        async with self._sessions.begin() as session:
            sync = SyncRepository(session)
            if not await sync.claim_page(page, page.page_no, now, trace_id):
                return WriteResult(duplicate=True)
            counts = await self._upsert(session, page, now)
            progress = await sync.record_page(
                page.run_id, page.page_no, counts, page.page_count, now, trace_id
            )
            completed = None
            if progress.is_complete and progress.status != "succeeded":
                cursor = await sync.complete_run(
                    page, now, advances_cursor=page.family not in SNAPSHOT_FAMILIES
                )
                completed = WindowCompleted(
                    run_id=page.run_id,
                    account_id=page.account_id,
                    family=page.family,
                    cursor=cursor,
                    completed_at=now,
                )
        return WriteResult(duplicate=False, counts=counts, completed=completed)

    async def _upsert(self, session: AsyncSession, page: PageBatch, now: datetime) -> PageCounts:
        if page.family is not Family.ORDERS:
            raise UnsupportedFamilyError(f"no writer for family {page.family}")
        orders, line_items = [], []
        for raw in page.records:
            order, items = map_order(page.account_id, raw)
            orders.append(order)
            line_items.extend(items)
        outcome = await OrderRepository(session).upsert_page(
            orders, line_items, run_id=page.run_id, page_no=page.page_no, now=now
        )
        return PageCounts(
            records=outcome.received, inserted=outcome.inserted, changed=outcome.changed
        )
