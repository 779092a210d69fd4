"""The Schedule projection polls by the stored budget plan, as the scheduler does: the plan's
interval as the family's cadence, a quiet pair backed off toward the family's worst."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget import BudgetReport, FamilyPlan, planned_policies
from common.db.budget import BudgetPlan, BudgetRepository
from common.db.sync import PairState, SyncState
from common.families import Family
from common.scheduling import next_due_at
from common.settings import WindowSettings
from testkit.admin import admin_settings, create_signed_in_org, serve_admin
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

POLICY = WindowSettings().policy(Family.ORDERS)
INTERVAL, WORST = timedelta(seconds=1234), timedelta(hours=2)


def plan(now: datetime) -> BudgetReport:
    return BudgetReport(
        computed_at=now,
        quota_day=date(2026, 12, 4),
        resets_at=now + timedelta(hours=5),
        quota_source="configured",
        families=[
            FamilyPlan(
                family=Family.ORDERS,
                pairs=1,
                calls_per_run=1.0,
                aim_seconds=300,
                worst_seconds=WORST.total_seconds(),
                interval_seconds=INTERVAL.total_seconds(),
                median_staleness_seconds=INTERVAL.total_seconds(),
                worst_staleness_seconds=INTERVAL.total_seconds(),
                within_aim=False,
                slowed_pairs=0,
                backs_off=True,
                reason="stretched toward its worst to fit the fulfillment budget",
            )
        ],
        backoff_after=2,
    )


@pytest.fixture
async def client(
    migrated_database_url: str, nats_url: str, topology: JetStreamContext
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        yield client


@pytest.mark.parametrize(("quiet_runs", "cadence"), [(0, INTERVAL), (3, 4 * INTERVAL)])
async def test_the_projection_polls_by_the_stored_plan(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    quiet_runs: int,
    cadence: timedelta,
) -> None:
    org = await create_signed_in_org(client, sessions)
    now = datetime.now(UTC)
    cursor = now - POLICY.settle_lag - timedelta(seconds=10)
    async with sessions.begin() as session:
        account = await create_account(session, org_id=org.id)
        session.add(
            SyncState(
                account_id=account.id,
                family="orders",
                cursor=cursor,
                quiet_runs=quiet_runs,
                updated_at=now,
            )
        )
        await BudgetRepository(session).store(plan(now), keep=5)
    try:
        schedule = (
            await client.get(f"/api/accounts/{account.id}/schedule", headers=org.viewer)
        ).json()
    finally:
        async with sessions.begin() as session:
            await session.execute(delete(BudgetPlan))
    [orders] = [entry for entry in schedule if entry["family"] == "orders"]
    due = datetime.fromisoformat(orders["next_due_at"])
    assert due == cursor + cadence + POLICY.settle_lag
    # What the scheduler computes from the same plan and pair.
    pair = PairState(account.id, Family.ORDERS, True, cursor, None, None, False, None, quiet_runs)
    policy = planned_policies({Family.ORDERS: POLICY}, plan(now))[Family.ORDERS]
    assert due == next_due_at(pair, now, policy)


async def test_without_a_stored_plan_the_projection_polls_by_the_configured_cadence(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A scheduler with its budget off clears the stored plans (``BudgetRepository.clear``),
    so the Schedule shows the fixed cadence it then polls by."""
    org = await create_signed_in_org(client, sessions)
    now = datetime.now(UTC)
    cursor = now - POLICY.settle_lag - timedelta(seconds=10)
    async with sessions.begin() as session:
        account = await create_account(session, org_id=org.id)
        session.add(
            SyncState(account_id=account.id, family="orders", cursor=cursor, updated_at=now)
        )
        await BudgetRepository(session).store(plan(now), keep=5)
    async with sessions.begin() as session:
        await BudgetRepository(session).clear()
        assert await BudgetRepository(session).latest() is None
    schedule = (await client.get(f"/api/accounts/{account.id}/schedule", headers=org.viewer)).json()
    [orders] = [entry for entry in schedule if entry["family"] == "orders"]
    assert (
        datetime.fromisoformat(orders["next_due_at"]) == cursor + POLICY.cadence + POLICY.settle_lag
    )
