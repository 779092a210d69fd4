"""Fencing on a real PostgreSQL (docs/adr/0011-fencing.md): once a newer run of a pair is
queued, the older run's late pages write nothing, end nothing and leave one open run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.offers import EbayOffer
from common.db.sync import OPEN_RUN_STATUSES, RunStatus, SyncRepository, SyncRun
from common.families import Family
from common.fencing import STALE_FENCE
from common.messages import PageBatch, SyncWindow, Trigger
from testkit.factories import create_account
from writer.service import PageWriter, StalePageError

pytestmark = pytest.mark.postgres


def utc_now() -> datetime:
    return datetime.now(UTC)


def offer(offer_id: str, quantity: int) -> dict[str, Any]:
    return {"offerId": offer_id, "sku": f"SKU-{offer_id}", "availableQuantity": quantity}


def snapshot_window(account_id: int, fence: int) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.OFFERS,
        window_from=None,
        window_to=utc_now(),
        trigger=Trigger.SCHEDULE,
        issued_at=utc_now(),
        fence=fence,
    )


def page_of(
    window: SyncWindow, records: list[dict[str, Any]], page_no: int, page_count: int | None
) -> PageBatch:
    return PageBatch(
        run_id=window.run_id,
        account_id=window.account_id,
        family=window.family,
        window_from=window.window_from,
        window_to=window.window_to,
        trigger=window.trigger,
        fence=window.fence,
        page_no=page_no,
        page_count=page_count,
        fetched_at=utc_now(),
        records=records,
        snapshot_complete=True if page_count is not None else None,
    )


async def queue(sessions: async_sessionmaker[AsyncSession], account_id: int) -> SyncWindow:
    """Queue a run as the scheduler does: take the fence, record the run, in one transaction."""
    async with sessions.begin() as session:
        sync = SyncRepository(session)
        fence = await sync.take_fence(account_id, Family.OFFERS)
        assert fence is not None
        window = snapshot_window(account_id, fence)
        await sync.record_queued(window)
    return window


async def open_runs(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[SyncRun]:
    async with sessions() as session:
        result = await session.scalars(
            select(SyncRun).where(
                SyncRun.account_id == account_id, SyncRun.status.in_(OPEN_RUN_STATUSES)
            )
        )
        return list(result.all())


async def offers(sessions: async_sessionmaker[AsyncSession], account_id: int) -> dict[str, Any]:
    async with sessions() as session:
        rows = await session.execute(
            select(EbayOffer.offer_id, EbayOffer.available_quantity, text("ended_at"))
            .select_from(EbayOffer)
            .where(EbayOffer.account_id == account_id)
        )
        return {r[0]: (r[1], r[2]) for r in rows}


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> PageWriter:
    return PageWriter(sessions, utc_now)


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


async def test_a_superseded_runs_late_pages_neither_overwrite_nor_end_rows(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    old = await queue(sessions, account_id)
    await writer.write(page_of(old, [offer("O-1", 1), offer("O-2", 1)], 1, None), None)
    # The old run stalls; past the stale threshold the scheduler queues a newer one.
    new = await queue(sessions, account_id)
    assert new.fence > old.fence
    [still_open] = await open_runs(sessions, account_id)
    assert still_open.run_id == new.run_id
    async with sessions() as session:
        superseded = await SyncRepository(session).get_run(old.run_id)
    assert superseded is not None and superseded.status == RunStatus.STALE
    assert superseded.error is not None and superseded.error.startswith(STALE_FENCE)
    assert superseded.finished_at is not None

    await writer.write(page_of(new, [offer("O-1", 5), offer("O-2", 5)], 1, 1), None)
    # The old run's last page, with older quantities and without O-2, arrives late: it would
    # overwrite O-1 and, completing a "complete" snapshot, end O-2.
    with pytest.raises(StalePageError, match=STALE_FENCE):
        await writer.write(page_of(old, [offer("O-1", 1)], 2, 2), None)
    assert await offers(sessions, account_id) == {"O-1": (5, None), "O-2": (5, None)}
    async with sessions() as session:
        stale = await SyncRepository(session).get_run(old.run_id)
        assert stale is not None and stale.status == RunStatus.STALE
        assert stale.pages_written == 1
        assert not await SyncRepository(session).has_page(old.run_id, 2)
    assert await open_runs(sessions, account_id) == []


async def test_a_redelivered_page_of_a_superseded_run_is_just_a_duplicate(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    old = await queue(sessions, account_id)
    written = page_of(old, [offer("R-1", 1)], 1, 1)
    await writer.write(written, None)
    await queue(sessions, account_id)
    assert (await writer.write(written, None)).duplicate


async def test_a_run_newer_than_the_pair_knows_supersedes_the_older_one(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    old = await queue(sessions, account_id)
    # A newer run whose queued record was lost (the scheduler died after the publish).
    async with sessions.begin() as session:
        fence = await SyncRepository(session).take_fence(account_id, Family.OFFERS)
    assert fence is not None
    newer = snapshot_window(account_id, fence)
    await writer.write(page_of(newer, [offer("N-1", 2)], 1, 1), None)
    async with sessions() as session:
        sync = SyncRepository(session)
        old_run, new_run = await sync.get_run(old.run_id), await sync.get_run(newer.run_id)
    assert old_run is not None and old_run.status == RunStatus.STALE
    assert new_run is not None and new_run.status == RunStatus.SUCCEEDED
    with pytest.raises(StalePageError):
        await writer.write(page_of(old, [offer("N-1", 1)], 1, 1), None)
    assert await offers(sessions, account_id) == {"N-1": (2, None)}


async def test_no_fence_is_taken_while_a_page_of_the_pair_is_being_written(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    await queue(sessions, account_id)
    async with sessions.begin() as writing:
        # A writer in the middle of a page transaction (or paused in it) holds the pair's row.
        await SyncRepository(writing).lock_pair(account_id, Family.OFFERS)
        async with sessions.begin() as scheduling:
            taken = await asyncio.wait_for(
                SyncRepository(scheduling).take_fence(account_id, Family.OFFERS), timeout=5
            )
        assert taken is None
    async with sessions.begin() as scheduling:
        assert await SyncRepository(scheduling).take_fence(account_id, Family.OFFERS) is not None


async def test_run_times_are_stamped_by_the_database_clock_when_pages_commit(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    # The writer's own clock is far off: it must not matter for run times.
    skewed = PageWriter(sessions, lambda: utc_now() - timedelta(days=3))
    window = await queue(sessions, account_id)
    async with sessions() as session:
        db_before = await session.scalar(text("SELECT clock_timestamp()"))
    await skewed.write(page_of(window, [offer("T-1", 1)], 1, None), None)
    await skewed.write(page_of(window, [offer("T-2", 1)], 2, 2), None)
    async with sessions() as session:
        db_after = await session.scalar(text("SELECT clock_timestamp()"))
        run = await SyncRepository(session).get_run(window.run_id)
        pages = await SyncRepository(session).pages_for_run(window.run_id)
    assert run is not None and run.queued_at and run.started_at and run.finished_at
    assert run.queued_at <= db_before <= run.started_at <= run.finished_at <= db_after
    assert all(db_before <= p.committed_at <= db_after for p in pages)
