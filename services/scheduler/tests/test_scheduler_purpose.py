"""The account's purpose chooses its families: the scheduler plans only those pairs, on real
JetStream and PostgreSQL, and follows a change of purpose at its next tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.accounts import EbayAccount
from common.db.sync import SyncRun
from common.families import PURPOSE_FAMILIES, Family, Purpose
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
# A seller family of each kind (incremental, snapshot) and the buyer's one.
FAMILIES = (Family.ORDERS, Family.OFFERS, Family.PURCHASES)


async def scheduler(broker: NatsBroker, sessions: async_sessionmaker[AsyncSession]) -> Scheduler:
    leases = await broker.key_value(BUCKETS.leases.bucket, declare=False)
    control = await broker.key_value(BUCKETS.control.bucket, declare=False)
    return Scheduler(
        sessions,
        window_publisher(broker, timeout=10),
        LeaderLease(leases, SCHEDULER_LEADER_KEY, "purpose"),
        PauseSwitch(control),
        dict.fromkeys(FAMILIES, POLICY),
        stale_after=timedelta(minutes=30),
        clock=lambda: datetime.now(UTC),
    )


async def windowed_families(js: JetStreamContext, account_id: int) -> set[str]:
    """The families that have a window on the bus for this account."""
    info = await js.stream_info(
        WINDOWS_STREAM, subjects_filter=f"{SyncWindow.SUBJECT_PREFIX}.*.{account_id}"
    )
    return {subject.split(".")[-2] for subject in info.state.subjects or {}}


async def account_with(sessions: async_sessionmaker[AsyncSession], purpose: Purpose) -> int:
    async with sessions.begin() as session:
        return (await create_account(session, purpose=purpose)).id


def test_buyer_is_purchases_seller_the_rest_and_both_everything() -> None:
    assert PURPOSE_FAMILIES[Purpose.BUYER] == {Family.PURCHASES}
    assert PURPOSE_FAMILIES[Purpose.SELLER] == set(Family) - {Family.PURCHASES}
    assert PURPOSE_FAMILIES[Purpose.BOTH] == set(Family)


async def test_each_account_gets_windows_of_its_purposes_families_only(
    broker: NatsBroker, topology: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    buyer = await account_with(sessions, Purpose.BUYER)
    seller = await account_with(sessions, Purpose.SELLER)
    both = await account_with(sessions, Purpose.BOTH)
    await (await scheduler(broker, sessions)).tick()
    assert await windowed_families(topology, buyer) == {"purchases"}
    assert await windowed_families(topology, seller) == {"orders", "offers"}
    assert await windowed_families(topology, both) == {"orders", "offers", "purchases"}


async def test_a_changed_purpose_holds_at_the_next_tick(
    broker: NatsBroker, topology: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account_id = await account_with(sessions, Purpose.BUYER)
    planner = await scheduler(broker, sessions)
    await planner.tick()
    assert await windowed_families(topology, account_id) == {"purchases"}
    # The buyer's window is done; an admin makes it a seller account.
    await topology.purge_stream(WINDOWS_STREAM)
    async with sessions.begin() as session:
        await session.execute(delete(SyncRun).where(SyncRun.account_id == account_id))
        await session.execute(
            update(EbayAccount).where(EbayAccount.id == account_id).values(purpose="seller")
        )
    await planner.tick()
    assert await windowed_families(topology, account_id) == {"orders", "offers"}
