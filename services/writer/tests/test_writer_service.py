"""The writer on a real PostgreSQL: upserts, history, receipts, run progress and cursors."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.events import EbayEvent
from common.db.orders import EbayOrder, EbayOrderLineItem
from common.db.sync import SyncRepository, SyncRun, SyncState
from common.families import Family
from common.messages import PageBatch, Trigger
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_TO = T0 + timedelta(days=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def page(
    account_id: int,
    records: list[dict[str, Any]],
    *,
    run_id: uuid.UUID,
    page_no: int = 1,
    page_count: int | None = 1,
    window_to: datetime = WINDOW_TO,
    trigger: Trigger = Trigger.SCHEDULE,
) -> PageBatch:
    return PageBatch(
        run_id=run_id,
        account_id=account_id,
        family=Family.ORDERS,
        window_from=T0,
        window_to=window_to,
        trigger=trigger,
        page_no=page_no,
        page_count=page_count,
        fetched_at=utc_now(),
        records=records,
    )


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> PageWriter:
    return PageWriter(sessions, utc_now)


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


async def events(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[EbayEvent]:
    async with sessions() as session:
        result = await session.scalars(
            select(EbayEvent).where(EbayEvent.account_id == account_id).order_by(EbayEvent.id)
        )
        return list(result.all())


async def cursor_of(sessions: async_sessionmaker[AsyncSession], account_id: int) -> datetime | None:
    async with sessions() as session:
        state = await SyncRepository(session).get_state(account_id, Family.ORDERS)
        return None if state is None else state.cursor


class TestUpsert:
    async def test_new_orders_are_inserted_with_a_created_event_each(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        orders = [make_order(f"A-{i}", modified=T0, line_items=2) for i in range(3)]
        result = await writer.write(page(account_id, orders, run_id=uuid.uuid4()), None)
        assert result.counts is not None
        assert (result.counts.inserted, result.counts.changed, result.counts.unchanged) == (3, 0, 0)
        async with sessions() as session:
            assert (
                await session.scalar(
                    select(func.count())
                    .select_from(EbayOrderLineItem)
                    .where(EbayOrderLineItem.account_id == account_id)
                )
                == 6
            )
        history = await events(sessions, account_id)
        assert sorted(e.entity_id for e in history) == ["A-0", "A-1", "A-2"]
        assert {e.change_kind for e in history} == {"created"}

    async def test_only_real_changes_get_events_naming_the_changed_fields(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        first = [make_order(f"B-{i}", modified=T0) for i in range(3)]
        await writer.write(page(account_id, first, run_id=uuid.uuid4()), None)
        later = T0 + timedelta(hours=1)
        second = [
            make_order("B-0", created=T0, modified=later, status="FULFILLED"),
            make_order("B-1", modified=T0),
            make_order("B-2", modified=T0),
        ]
        result = await writer.write(page(account_id, second, run_id=uuid.uuid4()), None)
        assert result.counts is not None
        assert (result.counts.inserted, result.counts.changed, result.counts.unchanged) == (0, 1, 2)
        changed = [e for e in await events(sessions, account_id) if e.change_kind == "changed"]
        assert [e.entity_id for e in changed] == ["B-0"]
        assert changed[0].changed_fields == [
            "lastModifiedDate",
            "lineItems",
            "orderFulfillmentStatus",
        ]
        async with sessions() as session:
            row = await session.get(EbayOrder, (account_id, "B-0"))
            assert row is not None and row.fulfillment_status == "FULFILLED"

    async def test_an_older_version_never_overwrites_a_newer_one(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        newer = make_order("C-0", modified=T0 + timedelta(hours=2), status="FULFILLED")
        older = make_order("C-0", modified=T0, status="NOT_STARTED")
        await writer.write(page(account_id, [newer], run_id=uuid.uuid4()), None)
        result = await writer.write(page(account_id, [older], run_id=uuid.uuid4()), None)
        assert result.counts is not None and result.counts.unchanged == 1
        async with sessions() as session:
            row = await session.get(EbayOrder, (account_id, "C-0"))
            assert row is not None and row.fulfillment_status == "FULFILLED"
            item = await session.get(EbayOrderLineItem, (account_id, "C-0", "C-0-L0"))
            assert item is not None and item.fulfillment_status == "FULFILLED"
        assert len(await events(sessions, account_id)) == 1

    async def test_a_page_repeating_an_order_keeps_the_newest_copy(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        records = [
            make_order("D-0", modified=T0 + timedelta(hours=1), status="IN_PROGRESS"),
            make_order("D-0", modified=T0),
        ]
        result = await writer.write(page(account_id, records, run_id=uuid.uuid4()), None)
        assert result.counts is not None and result.counts.inserted == 1
        async with sessions() as session:
            row = await session.get(EbayOrder, (account_id, "D-0"))
            assert row is not None and row.fulfillment_status == "IN_PROGRESS"


class TestReceipts:
    async def test_a_redelivered_page_changes_nothing(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        run_id = uuid.uuid4()
        batch = page(account_id, [make_order("E-0", modified=T0)], run_id=run_id)
        assert not (await writer.write(batch, None)).duplicate
        # The same page again, even with different content, is a no-op: its receipt exists.
        again = page(
            account_id, [make_order("E-0", modified=T0 + timedelta(hours=1))], run_id=run_id
        )
        assert (await writer.write(again, None)).duplicate
        assert len(await events(sessions, account_id)) == 1
        async with sessions() as session:
            run = await session.get(SyncRun, run_id)
            assert run is not None and run.pages_written == 1 and run.rows_inserted == 1

    async def test_concurrent_deliveries_of_one_page_write_it_once(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        batch = page(
            account_id, [make_order(f"F-{i}", modified=T0) for i in range(20)], run_id=uuid.uuid4()
        )
        results = await asyncio.gather(*(writer.write(batch, None) for _ in range(4)))
        assert sum(not r.duplicate for r in results) == 1
        assert len(await events(sessions, account_id)) == 20


class TestCursor:
    async def test_the_cursor_moves_only_with_the_last_outstanding_page(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        run_id = uuid.uuid4()
        # The last page arrives first: the window is not complete until page 1 is in.
        last = await writer.write(
            page(
                account_id, [make_order("G-1", modified=T0)], run_id=run_id, page_no=2, page_count=2
            ),
            None,
        )
        assert last.completed is None
        assert await cursor_of(sessions, account_id) is None
        first = await writer.write(
            page(
                account_id,
                [make_order("G-0", modified=T0)],
                run_id=run_id,
                page_no=1,
                page_count=None,
            ),
            None,
        )
        assert first.completed is not None
        assert await cursor_of(sessions, account_id) == WINDOW_TO
        async with sessions() as session:
            run = await session.get(SyncRun, run_id)
            assert run is not None and run.status == "succeeded" and run.pages_written == 2

    async def test_quiet_runs_count_runs_that_wrote_nothing_until_one_writes(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        async def quiet_runs() -> int:
            async with sessions() as session:
                state = await session.get(SyncState, (account_id, "orders"))
                assert state is not None
                return state.quiet_runs

        async def run(*records: dict[str, Any], trigger: Trigger = Trigger.SCHEDULE) -> int:
            batch = page(account_id, list(records), run_id=uuid.uuid4(), trigger=trigger)
            await writer.write(batch, None)
            return await quiet_runs()

        # A backfill's empty windows say nothing about the account now: no backoff before the
        # pair has caught up.
        assert await run(trigger=Trigger.CATCH_UP) == 0
        assert await run(trigger=Trigger.CATCH_UP) == 0
        assert await run(make_order("Q-1", modified=T0)) == 0  # a new order
        assert await run(make_order("Q-1", modified=T0)) == 1  # re-read, unchanged
        assert await run() == 2  # nothing at all
        # Neither does a run-now or a repair that found nothing: the count stays.
        assert await run(trigger=Trigger.MANUAL) == 2
        assert await run(trigger=Trigger.REPAIR) == 2
        assert await run() == 3
        later = T0 + timedelta(hours=1)
        assert await run(make_order("Q-1", modified=later, total="99.00")) == 0  # changed

    async def test_the_cursor_never_moves_back_when_an_older_window_completes_later(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        newer_end = WINDOW_TO + timedelta(days=3)
        await writer.write(page(account_id, [], run_id=uuid.uuid4(), window_to=newer_end), None)
        await writer.write(page(account_id, [], run_id=uuid.uuid4(), window_to=WINDOW_TO), None)
        assert await cursor_of(sessions, account_id) == newer_end

    async def test_the_database_refuses_to_move_a_cursor_back(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        await writer.write(page(account_id, [], run_id=uuid.uuid4()), None)
        with pytest.raises(DBAPIError, match="may not move back"):
            async with sessions.begin() as session:
                await session.execute(
                    update(SyncState).where(SyncState.account_id == account_id).values(cursor=T0)
                )
        assert await cursor_of(sessions, account_id) == WINDOW_TO

    async def test_a_failed_write_leaves_no_trace(
        self, writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
    ) -> None:
        bad = make_order("H-1", modified=T0)
        bad["lineItems"][0]["lineItemId"] = None
        run_id = uuid.uuid4()
        with pytest.raises(ValueError, match="lineItemId"):
            await writer.write(
                page(account_id, [make_order("H-0", modified=T0), bad], run_id=run_id), None
            )
        async with sessions() as session:
            assert await session.get(SyncRun, run_id) is None
            count = await session.scalar(
                text("SELECT count(*) FROM ebay_orders WHERE account_id = :a"), {"a": account_id}
            )
            assert count == 0
        assert await cursor_of(sessions, account_id) is None
