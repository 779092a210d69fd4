"""Cancel: an operator's cancel stops a running window before its next eBay call, and the run
never moves the cursor (real NATS, PostgreSQL and the simulator)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from common.db.runlog import LogKind, LogLine, RunLogRepository
from common.db.sync import RunStatus, SyncRepository
from common.families import Family
from common.messages import PageBatch, SyncWindow, Trigger
from ebay_sandbox.settings import SandboxConfig
from fetcher.settings import FetcherSettings
from testkit.pipeline import Pipeline, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


pipeline = pipeline_fixture(
    SandboxConfig(sellers=1, profile="tiny", orders_per_day=5, clock_frozen=True),
    fetcher_settings=FetcherSettings(orders_page_size=10),
)


async def order_calls(pipeline: Pipeline) -> int:
    stats = (await pipeline.http.get(f"{pipeline.sandbox_url}/sandbox/stats")).json()
    return sum(n for name, n in stats["endpoints"].items() if "getOrders" in name)


async def test_a_cancelled_run_stops_before_its_next_ebay_call_and_keeps_the_cursor(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(days=20),
        window_to=now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )
    cancels = await pipeline.cancels()

    async def cancel_after_the_first_page(page: PageBatch) -> None:
        if page.page_no != 1:
            return
        # What POST /api/runs/{id}/cancel does (services/admin-api, tested there).
        async with pipeline.sessions.begin() as session:
            assert await SyncRepository(session).cancel_run(window.run_id, "ops@example.com")
            line = LogLine("admin-api", LogKind.CANCELLED, "cancelled by ops@example.com")
            await RunLogRepository(session).add(window.run_id, [line])
        await cancels.ask(window.run_id)

    before = await order_calls(pipeline)
    fetcher = await pipeline.fetcher(after_write=cancel_after_the_first_page)
    await fetcher.fetch(window)
    assert await order_calls(pipeline) - before == 1, "no eBay call after the cancel"
    assert [p.page_no for p in pipeline.pages[window.run_id]] == [1]
    assert pipeline.pages[window.run_id][0].page_count is None, "the window had more pages"
    async with pipeline.sessions() as session:
        sync = SyncRepository(session)
        run = await sync.get_run(window.run_id)
        assert run is not None and (run.status, run.pages_written) == (RunStatus.CANCELLED, 1)
        assert await sync.get_state(seller.account_id, Family.ORDERS) is None, "no cursor moved"
        # The pair is free for its next window (one window per pair counts open runs only).
        [pair] = [
            p
            for p in await sync.pair_states([Family.ORDERS], now, timedelta(hours=1))
            if p.account_id == seller.account_id
        ]
        assert not pair.in_flight
        lines = await RunLogRepository(session).lines(window.run_id)
    assert [(line.source, line.kind) for line in lines] == [
        ("fetcher", "start"),
        ("writer", "page"),
        ("admin-api", "cancelled"),
    ]
    assert not await cancels.asked(window.run_id), "the stopped fetcher forgot the cancel"
    # A redelivery of the cancelled window (its ack was lost) makes no call either: the
    # checkpoint says the window is done.
    assert await fetcher.fetch(window) == 0
    assert await order_calls(pipeline) - before == 1
    assert [p.page_no for p in pipeline.pages[window.run_id]] == [1]
