"""Orders end to end: every service as its own process on real JetStream and PostgreSQL.

The sandbox's clock is frozen, so its orders hold still and the mirror can be compared with
them exactly. The scheduler's settle lag keeps every window's end before the sandbox's "now".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.orders import EbayOrderLineItem
from common.db.sync import SyncRepository, SyncRun, SyncState
from common.families import Family
from common.messages import PageBatch, SyncWindow, Trigger, encoded
from common.streams import PAGES_STREAM, WINDOWS_STREAM, WRITER_DURABLE
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.truths import TRUTHS
from ebaysync.verify import Records, event_count, mirrored_records, source_records
from testkit import servers
from testkit.progress import sandbox_now
from testkit.servers import DatabaseServer
from testkit.system import running_system
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SETTLE_LAG = timedelta(minutes=10)
BACKFILL_DAYS = 90


@dataclass
class System:
    runtime: Runtime
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    js: JetStreamContext
    account_id: int
    username: str


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[System]:
    database_url = database_server.create_database(servers.unique_database_name("e2e"))
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_url,
        admin_port=find_free_port(),
        sellers=1,
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            # One backfill, then nothing for an hour: the test triggers every later run itself.
            "SCHEDULER_CADENCE_SECONDS": "3600",
            "SCHEDULER_SETTLE_LAG_SECONDS": str(SETTLE_LAG.total_seconds()),
            "SCHEDULER_OVERLAP_SECONDS": "3600",
            "SCHEDULER_MAX_WINDOW_DAYS": "10",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": str(BACKFILL_DAYS),
            # Small pages, so every window spans several of them.
            "FETCHER_ORDERS_PAGE_SIZE": "25",
            "OTEL_LOG_FORMAT": "text",
        },
        sandbox_env={
            "SANDBOX_CLOCK_FROZEN": "true",
            "SANDBOX_ORDERS_PER_DAY": "6",
            "SANDBOX_HISTORY_DAYS": "120",
        },
    )
    async with running_system(options) as running:
        account = await running.only_account()
        yield System(
            running.runtime,
            running.sessions,
            running.sandbox,
            topology,
            account.id,
            account.username,
        )


async def open_runs(system: System) -> int:
    async with system.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(
                SyncRun.account_id == system.account_id, SyncRun.status.in_(["queued", "running"])
            )
        )
    return int(count or 0)


async def cursor(system: System) -> datetime | None:
    async with system.sessions() as session:
        state = await session.get(SyncState, (system.account_id, "orders"), populate_existing=True)
    return None if state is None else state.cursor


async def mirror(system: System) -> Records:
    return await mirrored_records(system.sessions, TRUTHS[Family.ORDERS], system.account_id)


async def source(system: System, modified_from: datetime, modified_to: datetime) -> Records:
    truth = TRUTHS[Family.ORDERS]
    return await source_records(system.sandbox, truth, system.username, modified_from, modified_to)


async def events(system: System) -> int:
    return await event_count(system.sessions, system.account_id, Family.ORDERS)


async def settled(system: System, started: datetime) -> bool:
    current = await cursor(system)
    caught_up = current is not None and current >= started - SETTLE_LAG
    return caught_up and await open_runs(system) == 0


async def writer_idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info(PAGES_STREAM, WRITER_DURABLE)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_a_90_day_backfill_mirrors_the_sandbox_exactly_and_reruns_change_nothing(
    system: System,
) -> None:
    # The scheduler plans in the sandbox's (frozen) time.
    started = await sandbox_now(system.sandbox)
    await eventually(lambda: settled(system, started), within=180, what="backfill caught up")

    # Nothing lost, nothing doubled: the mirror is exactly the source from the start of the
    # backfill to the cursor.
    final_cursor = await cursor(system)
    assert final_cursor is not None
    async with system.sessions() as session:
        backfill_start = await session.scalar(
            select(func.min(SyncRun.window_from)).where(SyncRun.account_id == system.account_id)
        )
    assert backfill_start is not None
    # The scheduler planned its first window moments before the test read its clock.
    assert started - backfill_start <= timedelta(days=BACKFILL_DAYS, minutes=1)
    expected = await source(system, backfill_start, final_cursor)
    mirrored = await mirror(system)
    assert len(expected) > 100, "the seller should have a real history"
    assert mirrored.keys() == expected.keys()
    assert all(mirrored[k] == expected[k] for k in expected)
    async with system.sessions() as session:
        items = await session.scalar(
            select(func.count())
            .select_from(EbayOrderLineItem)
            .where(EbayOrderLineItem.account_id == system.account_id)
        )
    assert items == sum(len(o["lineItems"]) for o in expected.values())
    # One history event per order, although overlapping windows fetched many twice.
    assert await events(system) == len(expected)
    async with system.sessions() as session:
        runs = list(
            await session.scalars(select(SyncRun).where(SyncRun.account_id == system.account_id))
        )
    # The other families may still be backfilling (a moment between two of their windows
    # looks settled too): their runs may be open, but none failed.
    assert not [r for r in runs if r.status not in ("succeeded", "queued", "running")]
    orders_runs = [r for r in runs if r.family == Family.ORDERS]
    assert len(orders_runs) >= BACKFILL_DAYS // 10
    assert all(r.status == "succeeded" and r.trace_id for r in orders_runs)
    assert sum(r.rows_received for r in orders_runs) > len(expected)  # the overlaps were real

    # The writer's /metrics counted exactly those inserts, labelled by family, not account.
    metrics_url = system.runtime.info.metrics_urls["writer"] if system.runtime.info else ""
    async with httpx.AsyncClient() as http:
        exposition = (await http.get(metrics_url)).text
    inserted = re.search(
        r'^ebaysync_rows_total\{change="inserted",family="orders"\} (\S+)$', exposition, re.M
    )
    assert inserted is not None
    assert float(inserted.group(1)) == len(expected)
    # No label names an account: its numbers grow without bound.
    assert not re.search(r'[{,]account(_id)?="', exposition)

    # A second pass over the whole backfill adds no rows and no events. It takes the pair's next
    # fence as run now does: a window without one would be older than the scheduler's runs.
    async with system.sessions.begin() as session:
        fence = await SyncRepository(session).take_fence(system.account_id, Family.ORDERS)
    assert fence is not None
    rerun = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=system.account_id,
        family=Family.ORDERS,
        window_from=backfill_start,
        window_to=final_cursor,
        trigger=Trigger.MANUAL,
        issued_at=datetime.now(UTC),
        fence=fence,
    )
    await system.js.publish(
        rerun.subject,
        encoded(rerun),
        stream=WINDOWS_STREAM,
        headers={"Nats-Msg-Id": rerun.message_id, "content-type": "application/json"},
    )

    async def rerun_done() -> bool:
        async with system.sessions() as session:
            run = await session.get(SyncRun, rerun.run_id, populate_existing=True)
        return run is not None and run.status == "succeeded"

    await eventually(rerun_done, within=120, what="manual re-run succeeded")
    async with system.sessions() as session:
        run = await session.get(SyncRun, rerun.run_id)
    assert run is not None
    assert run.rows_received == len(expected)
    assert (run.rows_inserted, run.rows_changed) == (0, 0)
    assert await events(system) == len(expected)
    assert await mirror(system) == expected

    # A redelivered page changes nothing, even when its content differs (receipt per page).
    some_id = next(iter(expected))
    tampered = {
        **expected[some_id],
        "orderFulfillmentStatus": "FULFILLED",
        "lastModifiedDate": "2099-01-01T00:00:00.000Z",
    }
    replay = PageBatch(
        run_id=rerun.run_id,
        account_id=system.account_id,
        family=Family.ORDERS,
        window_from=rerun.window_from,
        window_to=rerun.window_to,
        trigger=Trigger.MANUAL,
        fence=rerun.fence,
        page_no=1,
        page_count=None,
        fetched_at=datetime.now(UTC),
        records=[tampered],
    )
    # A fresh Nats-Msg-Id gets past JetStream's dedup, as a redelivery after its window would.
    await system.js.publish(
        replay.subject,
        orjson.dumps(replay.model_dump(mode="json")),
        stream=PAGES_STREAM,
        headers={"Nats-Msg-Id": f"replay-{uuid.uuid4()}", "content-type": "application/json"},
    )
    await eventually(lambda: writer_idle(system.js), within=30, what="writer took the replay")
    assert await mirror(system) == expected
    assert await events(system) == len(expected)
    assert await cursor(system) == final_cursor
