"""Isolation: one poisoned account among twenty healthy ones does not slow them down.

The real scheduler (its tick, on a short cadence), fetcher and writer run in-process against
the sandbox over HTTP, JetStream and PostgreSQL. Every eBay call of the poisoned seller fails
(HTTP 500). Its window is handed back with a growing delay, each failed attempt counts towards
its circuit breaker, and the breaker pauses it; meanwhile every healthy account's cursor stays
within one cadence of its schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.breaker import BreakerSettings
from common.control import PauseSwitch
from common.db.migrate import upgrade
from common.db.sync import SyncState
from common.families import Family
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import BUCKETS, SCHEDULER_LEADER_KEY
from common.windows import DEFAULT_LOOKBACK, LOOKBACK_LIMITS, WindowPolicy
from ebay_sandbox.settings import SandboxConfig
from fetcher.app import create_app as create_fetcher
from fetcher.settings import FetcherSettings
from scheduler.lease import LeaderLease
from scheduler.service import Scheduler, window_publisher
from testkit import servers
from testkit.pipeline import Pipeline, family_pipeline
from testkit.servers import DatabaseServer
from testkit.waiting import eventually
from writer.app import create_app as create_writer
from writer.settings import WriterSettings

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

HEALTHY = 20
CADENCE = timedelta(seconds=4)
SETTLE_LAG = timedelta(seconds=1)
TICK_SECONDS = 0.5
OBSERVE_SECONDS = 16.0
BREAKER = BreakerSettings(threshold=2, base_seconds=5, cap_seconds=60)
POLICY = WindowPolicy(
    overlap=timedelta(minutes=1),
    initial_backfill=timedelta(days=1),
    lookback_limit=LOOKBACK_LIMITS.get(Family.ORDERS, DEFAULT_LOOKBACK),
    max_window=timedelta(days=7),
    settle_lag=SETTLE_LAG,
    cadence=CADENCE,
)


@pytest.fixture
async def own_sessions(
    database_server: DatabaseServer,
) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """A database of its own: the scheduler plans every account it finds."""
    url = database_server.create_database(servers.unique_database_name("isolation"))
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url, pool_size=10)
    yield url, async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def tick_forever(scheduler: Scheduler) -> None:
    while True:
        await scheduler.tick()
        await asyncio.sleep(TICK_SECONDS)


async def states(sessions: async_sessionmaker[AsyncSession]) -> dict[int, SyncState]:
    async with sessions() as session:
        rows = await session.scalars(
            select(SyncState)
            .where(SyncState.family == str(Family.ORDERS))
            .execution_options(populate_existing=True)
        )
        return {s.account_id: s for s in rows}


async def test_one_poisoned_account_is_paused_while_twenty_healthy_ones_keep_their_cadence(
    nats_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    own_sessions: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    database_url, sessions = own_sessions
    nats = NatsSettings(url=nats_url)
    metrics = MetricsSettings(port=0)
    config = SandboxConfig(sellers=HEALTHY + 1, profile="tiny")
    async with family_pipeline(
        nats_url=nats_url,
        database_url=database_url,
        broker=broker,
        sessions=sessions,
        config=config,
        fetcher_settings=FetcherSettings(nats=nats, metrics=metrics),
    ) as pipeline:
        poisoned, *healthy = pipeline.sellers
        await pipeline.fault(poisoned, "http_500", family="orders", count=1_000_000)
        async with services(pipeline, database_url, nats, metrics):
            scheduler = await make_scheduler(broker, sessions)
            ticking = asyncio.create_task(tick_forever(scheduler))
            try:
                healthy_ids = {s.account_id for s in healthy}

                async def backfilled() -> bool:
                    current = await states(sessions)
                    return all(
                        current.get(a) is not None and current[a].cursor is not None
                        for a in healthy_ids
                    )

                await eventually(backfilled, within=40, what="every healthy account backfilled")
                worst: dict[int, timedelta] = {}
                loop = asyncio.get_running_loop()
                until = loop.time() + OBSERVE_SECONDS
                while loop.time() < until:
                    now = datetime.now(UTC)
                    for account_id, state in (await states(sessions)).items():
                        if account_id in healthy_ids and state.cursor is not None:
                            lag = now - state.cursor
                            worst[account_id] = max(worst.get(account_id, lag), lag)
                    await asyncio.sleep(0.5)
                final = (await states(sessions)).get(poisoned.account_id)
                checked_at = datetime.now(UTC)
            finally:
                ticking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticking

    # A caught-up pair is due once its cursor is a cadence plus the settle lag behind; it may
    # be late by at most one more cadence (the tick, the fetch and the write included).
    allowed = CADENCE + SETTLE_LAG + CADENCE
    assert worst.keys() == healthy_ids
    late = {a: lag for a, lag in worst.items() if lag > allowed}
    assert late == {}, f"healthy accounts fell behind: {late}"
    # The poisoned account never advanced; its breaker is open.
    assert final is not None and final.cursor is None
    assert final.consecutive_failures >= BREAKER.threshold
    assert final.paused_until is not None and final.paused_until > checked_at
    assert final.last_error is not None and "500" in final.last_error


@contextlib.asynccontextmanager
async def services(
    pipeline: Pipeline, database_url: str, nats: NatsSettings, metrics: MetricsSettings
) -> AsyncIterator[None]:
    apps: list[FastStream] = [
        create_fetcher(pipeline.fetcher_settings),
        create_writer(
            WriterSettings(
                nats=nats,
                database=PostgresSettings(url=SecretStr(database_url)),
                metrics=metrics,
                breaker=BREAKER,
            )
        ),
    ]
    for app in apps:
        await app.start()
    try:
        yield
    finally:
        for app in reversed(apps):
            await app.stop()


async def make_scheduler(
    broker: NatsBroker, sessions: async_sessionmaker[AsyncSession]
) -> Scheduler:
    leases = await broker.key_value(BUCKETS.leases.bucket, declare=False)
    control = await broker.key_value(BUCKETS.control.bucket, declare=False)
    return Scheduler(
        sessions,
        window_publisher(broker, timeout=10),
        LeaderLease(leases, SCHEDULER_LEADER_KEY, "isolation-test"),
        PauseSwitch(control),
        {Family.ORDERS: POLICY},
        stale_after=timedelta(minutes=30),
        clock=lambda: datetime.now(UTC),
    )
