"""The scheduler's budget plans with eBay's limits as the token service stored them
(common.db.quotas.StoredQuotas), on real PostgreSQL and the JetStream call ledger; a failed
reading plans with the configured quotas and the stored plan says why. The plan's metrics."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget import BudgetSettings
from common.db.budget import BudgetRepository
from common.db.quotas import QuotaReadingRepository, StoredQuotas
from common.ebay.quota import seconds_until_quota_reset
from common.families import Family
from common.ledger import CallCounter, CallLedger, CallLedgerSettings, DailyQuotas
from common.quotas import StoredReading
from common.settings import WindowSettings
from common.streams import BUCKETS, ensure_topology
from scheduler.budget import Budget

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

FAMILIES = (Family.ORDERS, Family.MESSAGES)


def ebay_answer(now: datetime, trading: int) -> list[Any]:
    reset = now + timedelta(seconds=seconds_until_quota_reset(now))
    stamp = reset.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def rate(limit: int) -> dict[str, Any]:
        return {"count": 0, "limit": limit, "remaining": limit, "reset": stamp, "timeWindow": 86400}

    return [
        {
            "apiContext": "TradingAPI",
            "apiName": "TradingAPI",
            "apiVersion": "v1",
            "resources": [{"name": "GetMyMessages", "rates": [rate(trading)]}],
        },
        {
            "apiContext": "sell",
            "apiName": "Fulfillment",
            "apiVersion": "v1",
            "resources": [{"name": "order", "rates": [rate(90_000)]}],
        },
    ]


async def budget(sessions: async_sessionmaker[AsyncSession], js: JetStreamContext) -> Budget:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(f"KV_{BUCKETS.call_ledger.bucket}")
    await ensure_topology(js)
    kv = await js.key_value(BUCKETS.call_ledger.bucket)
    settings = CallLedgerSettings(quotas=DailyQuotas())
    return Budget(
        sessions,
        CallLedger(kv, CallCounter(), settings),
        BudgetSettings(),
        DailyQuotas(),
        {family: WindowSettings().policy(family) for family in FAMILIES},
        stale_after=timedelta(minutes=30),
        clock=lambda: datetime.now(UTC),
        read_quotas=StoredQuotas(sessions, DailyQuotas()),
    )


async def store(sessions: async_sessionmaker[AsyncSession], reading: StoredReading) -> None:
    async with sessions.begin() as session:
        await QuotaReadingRepository(session).store("scheduler-test-app", reading)


async def test_the_plan_takes_the_stored_reading_and_says_when_it_cannot(
    sessions: async_sessionmaker[AsyncSession], topology: JetStreamContext
) -> None:
    planner = await budget(sessions, topology)
    now = datetime.now(UTC)
    await store(sessions, StoredReading(now, True, ebay_answer(now, trading=1_234)))
    await planner.recompute()
    async with sessions() as session:
        stored = await BudgetRepository(session).latest()
    assert stored is not None and stored == planner.report
    quotas = {a.api: a.quota for a in stored.apis}
    assert stored.quota_source == "getRateLimits"
    assert (quotas["trading"], quotas["fulfillment"]) == (1_234, 90_000)
    # The APIs eBay's answer left out stay configured, and the plan says so.
    assert quotas["finances"] == DailyQuotas().finances
    missing = "finances: missing from the getRateLimits reading"
    assert any(n.startswith(missing) for n in stored.notes)
    for family in stored.families:
        gauge = REGISTRY.get_sample_value(
            "ebaysync_planned_staleness_seconds", {"family": family.family.value}
        )
        assert gauge == family.worst_staleness_seconds
    failed = StoredReading(
        datetime.now(UTC) + timedelta(seconds=1), False, [], detail="EbayTransientError: 500"
    )
    await store(sessions, failed)
    await planner.recompute()
    async with sessions() as session:
        fallback = await BudgetRepository(session).latest()
    assert fallback is not None and fallback.quota_source == "configured"
    assert {a.api: a.quota for a in fallback.apis}["trading"] == DailyQuotas().trading
    assert fallback.notes[0] == (
        "getRateLimits failed (EbayTransientError: 500): using the configured quotas"
    )
    share = REGISTRY.get_sample_value("ebaysync_quota_used_ratio", {"api": "trading"})
    assert share == next(a.share_used for a in fallback.apis if a.api == "trading")
