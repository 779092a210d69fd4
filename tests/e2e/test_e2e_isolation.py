"""Isolation: one poisoned account among twenty healthy ones does not slow them down.

The real scheduler (its tick, on a short cadence), fetcher and writer run in-process against
the sandbox over HTTP, JetStream and PostgreSQL. First all twenty-one accounts are healthy: the
run measures how far behind a healthy cursor falls on this machine, now (the baseline). Then
every eBay call of one seller fails (HTTP 500). Its window is handed back with a growing delay,
each failed attempt counts towards its circuit breaker, and the breaker pauses it; meanwhile
every healthy account keeps advancing and falls no further behind than in the baseline, give
or take a cadence.

The bound is relative to the same run, not to the wall clock: a loaded machine slows both
phases alike, whereas a poison that held up the others (a blocked consumer, a fetcher busy
retrying) would show as lag the baseline did not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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
from testkit.waiting import eventually, stop_within
from writer.app import create_app as create_writer
from writer.settings import WriterSettings

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

HEALTHY = 20
CADENCE = timedelta(seconds=4)
SETTLE_LAG = timedelta(seconds=1)
TICK_SECONDS = 0.5
# Each phase watches at least this long: several cadences, so every pair is planned again.
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


async def worst_lags(
    sessions: async_sessionmaker[AsyncSession],
    accounts: set[int],
    until: Callable[[], Awaitable[bool]],
    *,
    within: float,
) -> dict[int, timedelta]:
    """Each account's largest cursor lag, sampled until ``until`` holds and OBSERVE_SECONDS
    have passed (at most ``within`` seconds); ``until`` is asked at every sample."""
    worst: dict[int, timedelta] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        now = datetime.now(UTC)
        for account_id, state in (await states(sessions)).items():
            if account_id in accounts and state.cursor is not None:
                lag = now - state.cursor
                worst[account_id] = max(worst.get(account_id, lag), lag)
        elapsed = loop.time() - started
        done = await until()
        if done and elapsed >= OBSERVE_SECONDS:
            return worst
        assert elapsed < within, f"not within {within}s: the observation's end"
        await asyncio.sleep(0.5)


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
        async with services(pipeline, database_url, nats, metrics):
            scheduler = await make_scheduler(broker, sessions)
            ticking = asyncio.create_task(tick_forever(scheduler))
            try:
                healthy_ids = {s.account_id for s in healthy}
                everyone = {*healthy_ids, poisoned.account_id}

                async def backfilled() -> bool:
                    current = await states(sessions)
                    return all(
                        current.get(a) is not None and current[a].cursor is not None
                        for a in everyone
                    )

                async def always() -> bool:
                    return True

                await eventually(backfilled, within=180, what="every account backfilled")
                baseline = await worst_lags(sessions, healthy_ids, always, within=120)

                before = await states(sessions)
                await pipeline.fault(poisoned, "http_500", family="orders", count=1_000_000)
                first_failure: list[datetime | None] = []
                # (failures, last error) when the breaker was seen pausing the pair: its pause
                # is short, so it may be over by the end of the observation.
                opened: list[tuple[int, str | None]] = []

                async def breaker_opened() -> bool:
                    state = (await states(sessions))[poisoned.account_id]
                    if state.consecutive_failures >= 1 and not first_failure:
                        # From its first failure on, nothing of the poisoned seller succeeds.
                        first_failure.append(state.cursor)
                    pause = state.paused_until
                    if pause is not None and pause > datetime.now(UTC) and not opened:
                        opened.append((state.consecutive_failures, state.last_error))
                    return bool(opened)

                poisoned_phase = await worst_lags(sessions, healthy_ids, breaker_opened, within=180)
                after = await states(sessions)
                final = after[poisoned.account_id]
            finally:
                ticking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticking

    assert baseline.keys() == poisoned_phase.keys() == healthy_ids
    # The poison costs the others no more than a cadence over what they lag anyway.
    allowed = 2 * max(baseline.values()) + CADENCE
    logger.info(
        "worst lag: %s healthy, %s poisoned (allowed %s)",
        max(baseline.values()),
        max(poisoned_phase.values()),
        allowed,
    )
    late = {a: lag for a, lag in poisoned_phase.items() if lag > allowed}
    assert late == {}, f"healthy accounts fell behind (allowed {allowed}): {late}"
    # ... and every one of them kept advancing meanwhile.
    stuck = [a for a in healthy_ids if not _advanced(before[a], after[a])]
    assert stuck == [], f"healthy accounts stopped: {stuck}"
    # The poisoned account advanced no more after its first failure; its breaker is open.
    assert first_failure and final.cursor == first_failure[0]
    [(failures, last_error)] = opened
    assert failures >= BREAKER.threshold
    assert last_error is not None and "500" in last_error


def _advanced(before: SyncState, after: SyncState) -> bool:
    return before.cursor is not None and after.cursor is not None and after.cursor > before.cursor


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
            await stop_within(app.stop(), within=30, what="a service of the test")


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
