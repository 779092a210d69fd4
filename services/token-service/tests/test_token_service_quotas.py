"""The quota_read job against the sandbox's Developer Analytics and PostgreSQL: the stored
reading gives the planner eBay's limits; a refused read is stored as failed and plans with the
configured quotas."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.quotas import QuotaReadingRepository
from common.ledger import DailyQuotas
from common.quotas import QuotaSource, plan_quotas
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
    assert summary == "quotas ebay: 6/6 APIs read from eBay"
    async with sessions() as session:
        stored = await QuotaReadingRepository(session).latest(client_id)
    assert stored is not None and stored.ok
    planned = plan_quotas(stored, DailyQuotas(), datetime.now(UTC))
    assert planned.source is QuotaSource.EBAY
    assert (planned.quotas().trading, planned.quotas().postorder) == (1_234, 4_321)
    assert planned.quotas().fulfillment == 100_000
    assert planned.resets_at is not None and planned.resets_at > datetime.now(UTC)


async def test_a_refused_read_is_stored_as_failed_and_plans_with_the_configured(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, client_id: str
) -> None:
    summary = await reader(sessions, http, client_id, "wrong").run()
    assert summary == "quotas configured: 0/6 APIs read from eBay"
    async with sessions() as session:
        stored = await QuotaReadingRepository(session).latest(client_id)
    assert stored is not None and not stored.ok and stored.detail
    assert "wrong" not in stored.detail and SECRET not in stored.detail
    planned = plan_quotas(stored, DailyQuotas(), datetime.now(UTC))
    assert planned.quotas() == DailyQuotas()
    assert "getRateLimits failed" in planned.notes[0]
