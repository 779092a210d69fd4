"""The admin API on real PostgreSQL and NATS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.app import create_app
from admin_api.settings import AdminApiSettings
from common.families import Family
from common.messages import PageBatch, Trigger
from common.settings import NatsSettings, PostgresSettings
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = AdminApiSettings(
        nats=NatsSettings(url=nats_url),
        database=PostgresSettings(url=SecretStr(migrated_database_url)),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            yield client


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "nats": "ok"}


async def test_workers_show_cursor_lag_and_last_run(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        account = await create_account(session)
    window_to = datetime.now(UTC) - timedelta(minutes=5)
    run_id = uuid.uuid4()
    await PageWriter(sessions, lambda: datetime.now(UTC)).write(
        PageBatch(
            run_id=run_id,
            account_id=account.id,
            family=Family.ORDERS,
            window_from=window_to - timedelta(days=1),
            window_to=window_to,
            trigger=Trigger.SCHEDULE,
            page_no=1,
            page_count=1,
            fetched_at=datetime.now(UTC),
            records=[make_order("Z-1", modified=window_to - timedelta(hours=1))],
        ),
        "0af7651916cd43dd8448eb211c80319c",
    )
    accounts = (await client.get("/api/accounts")).json()
    assert account.id in [a["id"] for a in accounts]
    workers = (await client.get(f"/api/accounts/{account.id}/workers")).json()
    assert [w["family"] for w in workers] == ["orders"]
    orders = workers[0]
    assert orders["enabled"] is True
    assert datetime.fromisoformat(orders["cursor"]) == window_to
    assert 299 <= orders["lag_seconds"] < 400
    assert orders["last_run"]["run_id"] == str(run_id)
    assert orders["last_run"]["status"] == "succeeded"
    assert orders["last_run"]["rows_inserted"] == 1
    assert orders["last_run"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


async def test_an_unknown_account_is_a_404_with_a_reason(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/accounts/999999999/workers")
    assert response.status_code == 404
    assert response.json() == {"detail": "account 999999999 not found"}


async def test_a_malformed_account_id_is_a_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/accounts/abc/workers")).status_code == 422
