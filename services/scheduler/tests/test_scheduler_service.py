"""The scheduler on real JetStream and PostgreSQL: the bus is the lock (DESIGN §3.2)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.sync import SyncRun
from common.families import Family
from common.messages import SyncWindow
from common.streams import BUCKETS, SCHEDULER_LEADER_KEY, WINDOWS_STREAM
from scheduler.domain import WindowPolicy
from scheduler.lease import LeaderLease
from scheduler.service import Scheduler, window_publisher
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    initial_backfill=timedelta(days=90),
    lookback_limit=timedelta(days=730),
    max_window=timedelta(days=7),
    settle_lag=timedelta(minutes=2),
    cadence=timedelta(minutes=5),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def make_scheduler(
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    holder: str,
    clock: Callable[[], datetime] = utc_now,
    stale_after: timedelta = timedelta(minutes=30),
) -> Scheduler:
    leases = await broker.key_value(BUCKETS.leases.bucket, declare=False)
    control = await broker.key_value(BUCKETS.control.bucket, declare=False)
    return Scheduler(
        sessions,
        window_publisher(broker, timeout=10),
        LeaderLease(leases, SCHEDULER_LEADER_KEY, holder),
        PauseSwitch(control),
        {Family.ORDERS: POLICY},
        stale_after=stale_after,
        clock=clock,
    )


async def windows_for(js: JetStreamContext, account_id: int) -> int:
    subject = f"{SyncWindow.SUBJECT_PREFIX}.orders.{account_id}"
    info = await js.stream_info(WINDOWS_STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


async def test_a_new_account_gets_one_window(
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    scheduler = await make_scheduler(broker, sessions, "a")
    assert await scheduler.tick() >= 1
    assert await windows_for(topology, account_id) == 1
    async with sessions() as session:
        statuses = await session.scalars(
            select(SyncRun.status).where(SyncRun.account_id == account_id)
        )
        assert list(statuses) == ["queued"]


async def test_two_schedulers_never_double_schedule(
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    first = await make_scheduler(broker, sessions, "first")
    second = await make_scheduler(broker, sessions, "second")
    for _ in range(3):
        await asyncio.gather(first.tick(), second.tick())
    assert await windows_for(topology, account_id) == 1


async def test_only_the_lease_holder_schedules_until_it_lets_go(
    broker: NatsBroker, sessions: async_sessionmaker[AsyncSession]
) -> None:
    leases = await broker.key_value(BUCKETS.leases.bucket, declare=False)
    leader = LeaderLease(leases, SCHEDULER_LEADER_KEY, "leader")
    follower = LeaderLease(leases, SCHEDULER_LEADER_KEY, "follower")
    assert await leader.hold()
    assert not await follower.hold()
    assert await leader.hold()  # renewing keeps it
    await leader.release()
    assert await follower.hold()
    assert not await leader.hold()


async def test_pause_all_stops_new_windows_until_it_is_switched_off(
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    control = PauseSwitch(await broker.key_value(BUCKETS.control.bucket, declare=False))
    scheduler = await make_scheduler(broker, sessions, "a")
    await control.set(True)
    assert await scheduler.tick() == 0
    assert await windows_for(topology, account_id) == 0
    await control.set(False)
    assert await scheduler.tick() >= 1
    assert await windows_for(topology, account_id) == 1


async def test_an_org_pause_stops_only_that_orgs_accounts(
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        paused = await create_account(session)
        running = await create_account(session)
    control = PauseSwitch(await broker.key_value(BUCKETS.control.bucket, declare=False))
    scheduler = await make_scheduler(broker, sessions, "a")
    await control.set_org(paused.org_id, True)
    try:
        assert await scheduler.tick() >= 1
        assert await windows_for(topology, paused.id) == 0
        assert await windows_for(topology, running.id) == 1
        await control.set_org(paused.org_id, False)
        assert await scheduler.tick() >= 1
        assert await windows_for(topology, paused.id) == 1
    finally:
        await control.set_org(paused.org_id, False)


async def test_concurrent_org_pauses_are_all_kept(broker: NatsBroker) -> None:
    control = PauseSwitch(await broker.key_value(BUCKETS.control.bucket, declare=False))
    orgs = range(10_000_001, 10_000_011)
    await asyncio.gather(*(control.set_org(org, True) for org in orgs))
    try:
        assert set(orgs) <= await control.paused_orgs()
    finally:
        await asyncio.gather(*(control.set_org(org, False) for org in orgs))
    assert not set(orgs) & await control.paused_orgs()


async def test_jetstream_refuses_a_second_window_for_a_pair_in_flight(
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    scheduler = await make_scheduler(broker, sessions, "a")
    await scheduler.tick()
    subject = f"{SyncWindow.SUBJECT_PREFIX}.orders.{account_id}"
    first = await topology.get_last_msg(WINDOWS_STREAM, subject)
    # Forget the queued run, as if the scheduler had crashed before recording it, and let time
    # pass so the window differs: only JetStream's one-message-per-subject rule stops it now.
    async with sessions.begin() as session:
        await session.execute(delete(SyncRun).where(SyncRun.account_id == account_id))
    await scheduler.release_leadership()
    later = await make_scheduler(
        broker, sessions, "a2", clock=lambda: utc_now() + timedelta(hours=1)
    )
    await later.tick()
    assert await windows_for(topology, account_id) == 1
    # Neither added nor replaced: the window in flight is still the first one.
    assert (await topology.get_last_msg(WINDOWS_STREAM, subject)).data == first.data


async def test_a_stale_run_is_fenced_off_by_the_next_window_of_its_pair(
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    scheduler = await make_scheduler(broker, sessions, "a", stale_after=timedelta(0))
    assert await scheduler.tick() >= 1
    subject = f"{SyncWindow.SUBJECT_PREFIX}.orders.{account_id}"
    first = SyncWindow.model_validate_json(
        (await topology.get_last_msg(WINDOWS_STREAM, subject)).data or b""
    )
    # The fetcher acked it (its pages now wait for a stalled writer); the run stops moving.
    await topology.purge_stream(WINDOWS_STREAM, subject=subject)
    assert await scheduler.tick() >= 1
    second = SyncWindow.model_validate_json(
        (await topology.get_last_msg(WINDOWS_STREAM, subject)).data or b""
    )
    assert second.fence > first.fence
    async with sessions() as session:
        runs = {
            r.run_id: r
            for r in await session.scalars(select(SyncRun).where(SyncRun.account_id == account_id))
        }
    assert runs[first.run_id].status == "stale" and runs[first.run_id].fence == first.fence
    assert runs[second.run_id].status == "queued" and runs[second.run_id].fence == second.fence
