"""What a page costs the database: the statements its transaction sends (issue 12).

A caught-up window is one empty page; it must cost a short transaction without any upsert. The
statements are counted on the engine (SQLAlchemy's ``before_cursor_execute``), so a change that
adds a round trip to the common page fails here, not only in a benchmark.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common.db.events import EbayEvent
from common.db.runlog import SyncRunLog
from common.db.sync import SyncPage, SyncRepository, SyncRun
from common.families import Family
from common.messages import PageBatch, PageNote, SyncWindow, Trigger
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 1, tzinfo=UTC)
UPSERT_TABLES = ("ebay_orders", "ebay_order_line_items", "ebay_events", "sync_snapshot_seen")


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement the engine sends while the block runs."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def queued_run(
    sessions: async_sessionmaker[AsyncSession], account_id: int, family: Family = Family.ORDERS
) -> SyncWindow:
    """A run queued as the scheduler queues it: a fence, a ``queued`` row."""
    async with sessions.begin() as session:
        sync = SyncRepository(session)
        fence = await sync.take_fence(account_id, family)
        assert fence is not None
        window = SyncWindow(
            run_id=uuid.uuid4(),
            account_id=account_id,
            family=family,
            window_from=T0,
            window_to=T0 + timedelta(hours=1),
            trigger=Trigger.SCHEDULE,
            fence=fence,
            issued_at=T0,
        )
        await sync.record_queued(window)
    return window


def page_of(window: SyncWindow, records: list[dict[str, Any]], page_count: int = 1) -> PageBatch:
    return PageBatch(
        **window.run_fields(),
        page_no=1,
        page_count=page_count,
        fetched_at=T0,
        records=records,
        notes=[PageNote(at=T0, kind="start", message="window started")],
    )


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


def writes_to(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if f"INSERT INTO {table} " in s or f"UPDATE {table} " in s]


async def test_an_empty_page_that_ends_its_window_is_four_statements_and_no_upsert(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    window = await queued_run(sessions, account_id)
    writer = PageWriter(sessions, lambda: T0)
    with statements(engine) as sent:
        result = await writer.write(page_of(window, []), "ab" * 16)
    assert result.completed is not None and result.completed.cursor == window.window_to
    for table in UPSERT_TABLES:
        assert writes_to(sent, table) == [], table
    # The lock (with the account check), the receipt with the run's progress, the run and the
    # cursor, the run log: BEGIN and COMMIT are not cursor executions.
    assert len(sent) == 4, sent
    async with sessions() as session:
        run = await session.get(SyncRun, window.run_id)
        assert run is not None
        assert (run.status, run.pages_written, run.rows_received) == ("succeeded", 1, 0)
        assert run.trace_id == "ab" * 16
        receipt = await session.get(SyncPage, (window.run_id, 1))
        assert receipt is not None and (receipt.records, receipt.inserted) == (0, 0)
        lines = (
            await session.scalars(
                select(SyncRunLog.kind)
                .where(SyncRunLog.run_id == window.run_id)
                .order_by(SyncRunLog.id)
            )
        ).all()
        assert list(lines) == ["start", "page", "done"]


async def test_an_empty_snapshot_page_sends_no_seen_list(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    window = await queued_run(sessions, account_id, Family.ACTIVE_INVENTORY)
    first = page_of(window, [], page_count=2).model_copy(update={"page_count": None})
    with statements(engine) as sent:
        await PageWriter(sessions, lambda: T0).write(first, None)
    assert writes_to(sent, "sync_snapshot_seen") == []
    assert writes_to(sent, "ebay_active_listings") == []
    assert len(sent) == 3, sent


async def test_a_redelivered_empty_page_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    window = await queued_run(sessions, account_id)
    writer = PageWriter(sessions, lambda: T0)
    empty = page_of(window, [], page_count=2).model_copy(update={"page_count": None})
    assert not (await writer.write(empty, None)).duplicate
    assert (await writer.write(empty, None)).duplicate
    async with sessions() as session:
        run = await session.get(SyncRun, window.run_id)
        assert run is not None and (run.pages_written, run.status) == (1, "running")


async def test_an_empty_page_creates_its_run_when_the_scheduler_has_not(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    """The pipeline may outrun the scheduler's ``queued`` record: the page's statement creates
    the run (its receipt's foreign key holds) with the page counted once."""
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=T0,
        window_to=T0 + timedelta(hours=1),
        trigger=Trigger.MANUAL,
        issued_at=T0,
    )
    result = await PageWriter(sessions, lambda: T0).write(page_of(window, []), None)
    assert result.completed is not None
    async with sessions() as session:
        run = await session.get(SyncRun, window.run_id)
        assert run is not None
        assert (run.status, run.pages_written, run.pages_expected) == ("succeeded", 1, 1)


async def test_a_small_page_upserts_once_per_table(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    window = await queued_run(sessions, account_id)
    orders = [
        make_order(f"S-{n}", modified=T0, created=T0 - timedelta(days=1), line_items=2)
        for n in range(3)
    ]
    with statements(engine) as sent:
        result = await PageWriter(sessions, lambda: T0).write(page_of(window, orders), None)
    assert result.counts is not None and result.counts.inserted == 3
    assert len(writes_to(sent, "ebay_orders")) == 1
    assert len(writes_to(sent, "ebay_order_line_items")) == 1
    # lock, claim, two upserts, the children no longer held, progress, completion, run log.
    assert len(sent) == 8, sent
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(EbayEvent).where(EbayEvent.run_id == window.run_id)
        )
        assert count == 3
