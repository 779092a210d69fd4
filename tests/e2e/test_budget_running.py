"""The call budget on a running system (issue 13's Done-when): a small quota, a whole quota day.

Four sellers, every family, every service its own process. The sandbox's clock starts shortly
before midnight US Pacific, so the quota day the scheduler plans in ends while the test runs:
what the sandbox counted for that day is the day's calls, whole. Fulfillment's quota is small:
the orders' 1-s cadence would spend it several times over (4 pairs, about a call a second
each), so the budget must trade. Seller 1 (profile ``busy``) sells an order every two seconds
or so; sellers 2-4 (``idle``) never change.

Proven: every API's calls that day stay within the budget's share of its quota, every pair has
synced, and the busy seller's orders were polled more often than any idle seller's (the idle
pairs back off, the busy one spends what they leave). With a fixed cadence, or a budget that
ignored the quota or backed nobody off, the first or the last assertion fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget import BudgetSettings
from common.db.accounts import EbayAccount
from common.db.budget import BudgetRepository
from common.db.sync import RunStatus, SyncRun, SyncState
from common.ebay.quota import EbayApi, seconds_until_quota_reset
from common.families import Family
from common.messages import Trigger
from ebaysync.runtime import RuntimeOptions
from testkit import servers
from testkit.servers import DatabaseServer
from testkit.system import running_system
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SELLERS = 4
BUSY = "sandbox_seller_1"
# What is left of the sandbox's quota day when the system starts: start-up, the backfills and
# a minute of polling.
DAY_LEFT_SECONDS = 100
SHARE = BudgetSettings().share
# Fulfillment (orders) is the quota the test makes short; the others are ample but checked too.
QUOTAS: dict[EbayApi, int] = {
    EbayApi.FULFILLMENT: 100,
    EbayApi.PAYMENT_DISPUTE: 1000,
    EbayApi.FINANCES: 1000,
    EbayApi.INVENTORY: 1000,
    EbayApi.TRADING: 1000,
    EbayApi.POSTORDER_CASES: 1000,
    EbayApi.POSTORDER_INQUIRIES: 1000,
    EbayApi.POSTORDER_RETURNS: 1000,
}
# The sandbox's quota pools (``api/resource`` of getRateLimits) by the ledger's API.
POOL_PREFIXES: dict[EbayApi, str] = {
    EbayApi.FULFILLMENT: "Fulfillment/order",
    EbayApi.PAYMENT_DISPUTE: "Fulfillment/payment_dispute",
    EbayApi.FINANCES: "Finances/",
    EbayApi.INVENTORY: "Inventory/",
    EbayApi.TRADING: "TradingAPI/",
    EbayApi.POSTORDER_CASES: "PostOrder/casemanagement",
    EbayApi.POSTORDER_INQUIRIES: "PostOrder/inquiry",
    EbayApi.POSTORDER_RETURNS: "PostOrder/return",
}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@dataclass
class System:
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[System]:
    database_url = database_server.create_database(servers.unique_database_name("budget"))
    now = datetime.now(UTC)
    offset = seconds_until_quota_reset(now) - DAY_LEFT_SECONDS
    # The Post-Order quota of the sandbox is one setting for every resource.
    sandbox_quotas = {
        f"SANDBOX_QUOTA_{api.name}": str(n)
        for api, n in QUOTAS.items()
        if not api.name.startswith("POSTORDER")
    }
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_url,
        admin_port=find_free_port(),
        sellers=SELLERS,
        service_env={
            **{f"EBAY_QUOTA_{api.name}": str(n) for api, n in QUOTAS.items()},
            "SCHEDULER_TICK_SECONDS": "0.5",
            "SCHEDULER_BUDGET__RECOMPUTE_SECONDS": "1",
            # Orders every second, the rest every 20 s (they are not what is tested).
            "SCHEDULER_CADENCE_SECONDS": "20",
            "SCHEDULER_SNAPSHOT_CADENCE_SECONDS": "20",
            "SCHEDULER_FAMILY_OVERRIDES": json.dumps({"orders": {"cadence_seconds": 1}}),
            # An idle pair backs off to at most a minute: it still polls within the day.
            "SCHEDULER_BUDGET__FRESHNESS": json.dumps({"orders": {"aim": 5, "worst": 60}}),
            "SCHEDULER_SETTLE_LAG_SECONDS": "2",
            "SCHEDULER_OVERLAP_SECONDS": "10",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "31",
            "SCHEDULER_MAX_WINDOW_DAYS": "31",
            # Polling alone: no notification shortens the busy seller's way.
            "ADMIN_API_PUSH__ENABLED": "false",
            "OTEL_LOG_FORMAT": "text",
        },
        sandbox_env={
            "SANDBOX_CLOCK_OFFSET_SECONDS": str(offset),
            # History starts at the sandbox's start: the busy seller's backfill is small.
            "SANDBOX_ORIGIN": (now + timedelta(seconds=offset)).isoformat(),
            "SANDBOX_PROFILE": "busy,idle,idle,idle",
            "SANDBOX_QUOTA_POSTORDER": str(QUOTAS[EbayApi.POSTORDER_CASES]),
            **sandbox_quotas,
        },
    )
    async with running_system(options) as running:
        yield System(running.sessions, running.sandbox)


async def scheduled_orders_runs(system: System) -> dict[str, int]:
    """Per seller, the scheduled polls of its orders that succeeded."""
    async with system.sessions() as session:
        rows = await session.execute(
            select(EbayAccount.username, func.count(SyncRun.run_id))
            .join(SyncRun, SyncRun.account_id == EbayAccount.id)
            .where(
                SyncRun.family == Family.ORDERS,
                SyncRun.trigger == Trigger.SCHEDULE,
                SyncRun.status == RunStatus.SUCCEEDED,
            )
            .group_by(EbayAccount.username)
        )
        return {username: count for username, count in rows}


async def test_a_small_quota_holds_for_the_day_and_goes_where_orders_change(
    system: System,
) -> None:
    ended: dict[str, object] = {}
    # Whether a plan of the day backed quiet pairs off: the budget was short for the cadence.
    backed_off: list[bool] = []

    async def day_ended() -> bool:
        body = (await system.sandbox.get("/sandbox/calls")).json()
        if body["ended"] is not None:
            ended.update(body["ended"])
            return True
        async with system.sessions() as session:
            plan = await BudgetRepository(session).latest()
        orders = plan.family(Family.ORDERS) if plan is not None else None
        backed_off.append(orders is not None and orders.backs_off)
        return False

    await eventually(day_ended, within=DAY_LEFT_SECONDS + 60, what="the quota day's end")
    calls = ended["calls"]
    assert isinstance(calls, dict)
    day = {
        api: sum(n for pool, n in calls.items() if pool.startswith(prefix))
        for api, prefix in POOL_PREFIXES.items()
    }
    budget = {api: int(SHARE * QUOTAS[api]) for api in QUOTAS}

    async with system.sessions() as session:
        states = list(await session.scalars(select(SyncState)))
    polls = await scheduled_orders_runs(system)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "budget-running.json").write_text(
        json.dumps({"calls": {str(a): n for a, n in day.items()}, "orders_polls": polls}, indent=2)
    )

    # (a) The day's calls, counted at the sandbox, within the budget of every quota ...
    assert day[EbayApi.FULFILLMENT] > 0
    assert all(day[api] <= budget[api] for api in QUOTAS), (day, budget)
    # ... while every pair synced.
    assert len(states) == SELLERS * len(Family)
    assert all(state.last_success_at is not None for state in states), [
        (s.account_id, s.family) for s in states if s.last_success_at is None
    ]
    # The budget was short (the cadence would not have fit): it backed quiet pairs off.
    assert any(backed_off)

    # (b) The seller whose orders keep coming was polled more often than each idle one.
    idle = {seller: n for seller, n in polls.items() if seller != BUSY}
    assert len(idle) == SELLERS - 1, polls
    assert all(polls.get(BUSY, 0) > 2 * n for n in idle.values()), polls
