"""GET /api/budget on real PostgreSQL: the scheduler's latest plan (slowed pairs of the caller's
org only), the quotas eBay reported (as stored, nonsense shown as None), the reset time, who
may read it and what bad input gets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget import BudgetInputs, BudgetSettings, PairLoad, plan_budget
from common.db.budget import BudgetRepository
from common.db.quotas import QuotaReadingRepository
from common.ebay.quota import EbayApi
from common.families import Family
from common.ledger import DailyQuotas
from common.quotas import StoredReading
from common.settings import EbayApiSettings
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


@pytest.fixture
def client_id() -> str:
    # The application is the test's own: readings stored by other tests are not its readings.
    return f"budget-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def client(
    migrated_database_url: str, nats_url: str, topology: JetStreamContext, client_id: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = admin_settings(
        nats_url, migrated_database_url, ebay=EbayApiSettings(client_id=client_id)
    )
    async with serve_admin(settings) as (_, client):
        yield client


@pytest.fixture
async def org(client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]) -> Org:
    return await create_signed_in_org(client, sessions)


async def store(
    sessions: async_sessionmaker[AsyncSession], client_id: str, reading: StoredReading
) -> None:
    async with sessions.begin() as session:
        await QuotaReadingRepository(session).store(client_id, reading)


async def test_the_reading_is_shown_as_stored_with_the_next_reset(
    client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession], client_id: str
) -> None:
    empty = (await client.get("/api/budget", headers=org.viewer)).json()
    assert empty["reading"] == {"read_at": None, "ok": None, "detail": None, "rates": []}
    resets_at = datetime.fromisoformat(empty["resets_at"])
    assert timedelta(0) < resets_at - datetime.now(UTC) <= timedelta(hours=25)
    limits = [
        {
            "apiContext": "TradingAPI",
            "apiName": "TradingAPI",
            "apiVersion": "v1",
            "resources": [
                {
                    "name": "GetMyMessages",
                    "rates": [
                        {
                            "count": 12,
                            "limit": 5000,
                            "remaining": 4988,
                            "reset": "2026-12-05T08:00:00.000Z",
                            "timeWindow": 86400,
                        },
                        {"count": "lots", "limit": -1},
                    ],
                },
                "junk",
            ],
        }
    ]
    await store(sessions, client_id, StoredReading(datetime.now(UTC), True, limits))
    body = (await client.get("/api/budget", headers=org.viewer)).json()
    assert body["reading"]["ok"] is True
    first, odd = body["reading"]["rates"]
    assert first == {
        "api_context": "TradingAPI",
        "api_name": "TradingAPI",
        "resource": "GetMyMessages",
        "count": 12,
        "limit": 5000,
        "remaining": 4988,
        "reset": "2026-12-05T08:00:00Z",
        "time_window": 86400,
    }
    assert (odd["count"], odd["limit"], odd["reset"]) == (None, -1, None)


async def test_a_failed_read_shows_why(
    client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession], client_id: str
) -> None:
    failed = StoredReading(datetime.now(UTC), False, [], detail="EbayTransientError: HTTP 500")
    await store(sessions, client_id, failed)
    reading = (await client.get("/api/budget", headers=org.viewer)).json()["reading"]
    assert (reading["ok"], reading["detail"], reading["rates"]) == (
        False,
        "EbayTransientError: HTTP 500",
        [],
    )


@pytest.mark.parametrize("limit", ["0", "-3", "abc", "5001", ""])
async def test_bad_input_is_refused(client: httpx.AsyncClient, org: Org, limit: str) -> None:
    response = await client.get(f"/api/budget?slowed_limit={limit}", headers=org.viewer)
    assert response.status_code == 422


async def test_signed_out_callers_get_nothing(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/budget")).status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert (await client.get("/api/budget", headers=bogus)).status_code == 401


async def test_the_latest_plan_is_shown_with_the_orgs_slowed_pairs_only(
    client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = await create_signed_in_org(client, sessions)
    async with sessions.begin() as session:
        ours = (await create_account(session, org_id=org.id)).id
        theirs = (await create_account(session, org_id=other.id)).id
    # Both pairs' runs keep finding nothing, and Trading's budget is nearly spent (50 calls
    # left for the day): both are slowed down.
    pairs = {Family.MESSAGES: [PairLoad(ours, quiet_runs=8), PairLoad(theirs, quiet_runs=8)]}
    inputs = BudgetInputs(
        now=datetime.now(UTC),
        configured=DailyQuotas(),
        used_today={EbayApi.TRADING: 4450},
        pairs=pairs,
        horizon=timedelta(days=1),
    )
    report = plan_budget(inputs, BudgetSettings())
    assert {p.account_id for p in report.slowed} == {ours, theirs}
    async with sessions.begin() as session:
        await BudgetRepository(session).store(report, keep=5)
    shown = (await client.get("/api/budget", headers=org.viewer)).json()["report"]
    assert [p["account_id"] for p in shown["slowed"]] == [ours]
    assert shown["quota_source"] == report.quota_source
    assert shown["apis"] == [a.model_dump(mode="json") for a in report.apis]
    assert [f["family"] for f in shown["families"]] == ["messages"]
    theirs_shown = (await client.get("/api/budget", headers=other.viewer)).json()["report"]
    assert [p["account_id"] for p in theirs_shown["slowed"]] == [theirs]
