"""The run log the writer keeps (the fetcher's notes, each page, the end) and cancelled runs,
on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.runlog import RunLogRepository, SyncRunLog
from common.db.sync import RunStatus, SyncRepository
from common.families import Family
from common.messages import PageBatch, PageNote, Trigger
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def page(
    account_id: int, run_id: uuid.UUID, page_no: int, page_count: int | None, **extra: Any
) -> PageBatch:
    return PageBatch(
        run_id=run_id,
        account_id=account_id,
        family=Family.ORDERS,
        window_from=T0,
        window_to=T0 + timedelta(days=1),
        trigger=Trigger.SCHEDULE,
        page_no=page_no,
        page_count=page_count,
        fetched_at=datetime.now(UTC),
        records=[make_order(f"L-{page_no}-{i}", modified=T0) for i in range(2)],
        **extra,
    )


async def log_of(sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> list[SyncRunLog]:
    async with sessions() as session:
        return await RunLogRepository(session).lines(run_id)


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


async def test_a_runs_log_holds_the_fetchers_notes_each_page_and_the_end(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    writer = PageWriter(sessions, lambda: datetime.now(UTC))
    run_id = uuid.uuid4()
    started = datetime.now(UTC) - timedelta(seconds=5)
    notes = [
        PageNote(at=started, kind="start", message="fetch window from offset 0 (page 1)"),
        PageNote(
            at=started + timedelta(seconds=1),
            kind="retry",
            message="window page at offset 0 failed (HTTP 500 …); attempt 2 of 4 in 0.10s",
            ebay_request_id="req-42",
        ),
    ]
    await writer.write(page(account_id, run_id, 1, None, notes=notes), None)
    # A redelivered page is a duplicate: it adds no line.
    await writer.write(page(account_id, run_id, 1, None, notes=notes), None)
    await writer.write(page(account_id, run_id, 2, 2), None)
    lines = await log_of(sessions, run_id)
    assert [(line.source, line.kind, line.page_no) for line in lines] == [
        ("fetcher", "start", 1),
        ("fetcher", "retry", 1),
        ("writer", "page", 1),
        ("writer", "page", 2),
        ("writer", "done", None),
    ]
    assert lines[0].at == started  # a note keeps the time the fetcher made it
    assert lines[1].ebay_request_id == "req-42"
    assert lines[2].message == "page 1: 2 records (2 created, 0 changed, 0 unchanged)"
    assert lines[3].message.startswith("page 2 of 2: 2 records")
    assert lines[4].message.startswith("done: 2 pages; cursor 2026-11-02")


async def test_a_cancelled_run_keeps_what_it_wrote_and_never_moves_the_cursor(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    writer = PageWriter(sessions, lambda: datetime.now(UTC))
    run_id = uuid.uuid4()
    await writer.write(page(account_id, run_id, 1, None), None)
    async with sessions.begin() as session:
        assert await SyncRepository(session).cancel_run(run_id, "ops@example.com")
    async with sessions.begin() as session:
        # Only an open run can be cancelled.
        assert not await SyncRepository(session).cancel_run(run_id, "ops@example.com")
    # The last page was on its way: written, but the run stays cancelled.
    result = await writer.write(page(account_id, run_id, 2, 2), None)
    assert result.completed is None
    async with sessions() as session:
        sync = SyncRepository(session)
        run = await sync.get_run(run_id)
        assert run is not None
        assert (run.status, run.pages_written, run.error) == (
            RunStatus.CANCELLED,
            2,
            "cancelled by ops@example.com",
        )
        assert await sync.get_state(account_id, Family.ORDERS) is None  # no cursor, ever
    assert "done" not in {line.kind for line in await log_of(sessions, run_id)}
