"""The quota_read job against the sandbox's Developer Analytics and PostgreSQL: the stored
reading gives the planner eBay's limits; a refused read is stored as failed and plans with the
configured quotas."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget.quotas import QuotaReading, ResolvedQuotas, resolve_quotas
from common.db.quotas import QuotaReadingRepository
from common.ebay.quota import EbayApi, seconds_until_quota_reset
from common.ledger import DailyQuotas
from common.quotas import quota_readings
from common.settings import EbayApiSettings
from ebay_sandbox.app import create_app as create_sandbox
from ebay_sandbox.settings import SandboxConfig
from token_service.quotas import QuotaReader

pytestmark = pytest.mark.postgres

SECRET = "quota-secret"


@pytest.fixture
def client_id() -> str:
    # Each test is its own application: readings of other tests are not its readings.
    return f"quota-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def http(client_id: str) -> AsyncIterator[httpx.AsyncClient]:
    config = SandboxConfig(
        sellers=1,
        client_id=client_id,
        client_secret=SecretStr(SECRET),
        quota_trading=1_234,
        quota_postorder=4_321,
    )
    transport = httpx.ASGITransport(app=create_sandbox(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


def resolve(readings: list[QuotaReading]) -> tuple[ResolvedQuotas, list[str]]:
    now = datetime.now(UTC)
    resets_at = now + timedelta(seconds=seconds_until_quota_reset(now))
    notes: list[str] = []
    return resolve_quotas(DailyQuotas(), readings, now, resets_at, notes), notes


def reader(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, client_id: str, secret: str
) -> QuotaReader:
    ebay = EbayApiSettings(
        api_base_url="http://sandbox", client_id=client_id, client_secret=SecretStr(secret)
    )
    return QuotaReader(sessions, http, ebay, DailyQuotas(), lambda: datetime.now(UTC))


async def test_the_reading_is_stored_and_plans_with_ebays_limits(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, client_id: str
) -> None:
    summary = await reader(sessions, http, client_id, SECRET).run()
    assert summary == "quotas read from eBay for 8 of 8 APIs"
    async with sessions() as session:
        stored = await QuotaReadingRepository(session).latest(client_id)
    assert stored is not None and stored.ok
    readings, notes = quota_readings(stored, DailyQuotas())
    assert notes == []
    # The planner takes them: eBay's limits, eBay's reset agreeing with the local clock.
    resolved, why = resolve(readings)
    assert resolved.source == "getRateLimits" and why == []
    assert resolved.limits[EbayApi.TRADING] == 1_234
    assert resolved.limits[EbayApi.POSTORDER_RETURNS] == 4_321
    assert resolved.limits[EbayApi.FULFILLMENT] == 100_000


async def test_a_refused_read_is_stored_as_failed_and_plans_with_the_configured(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, client_id: str
) -> None:
    summary = await reader(sessions, http, client_id, "wrong").run()
    assert summary == "quotas read from eBay for 0 of 8 APIs"
    async with sessions() as session:
        stored = await QuotaReadingRepository(session).latest(client_id)
    assert stored is not None and not stored.ok and stored.detail
    assert "wrong" not in stored.detail and SECRET not in stored.detail
    readings, notes = quota_readings(stored, DailyQuotas())
    assert readings == []
    [note] = notes
    assert note.startswith("getRateLimits failed (EbayAuthError") and "configured" in note
