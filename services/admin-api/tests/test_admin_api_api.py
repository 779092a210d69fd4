"""The admin API on real PostgreSQL and NATS: health, the workers view, errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.families import FAMILIES, Family
from common.messages import PageBatch, Trigger
from testkit import admin_fixtures
from testkit.admin import Org, admin_settings, serve_admin
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

org = admin_fixtures.org


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        yield client


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "nats": "ok"}


async def test_workers_show_cursor_lag_and_last_run(
    client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        account = await create_account(session, org_id=org.id)
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
    accounts = (await client.get("/api/accounts", headers=org.viewer)).json()
    assert [a["id"] for a in accounts] == [account.id]
    workers = (await client.get(f"/api/accounts/{account.id}/workers", headers=org.viewer)).json()
    # Every family has a worker; orders is the one this test ran.
    assert sorted(w["family"] for w in workers) == sorted(map(str, Family))
    [orders] = [w for w in workers if w["family"] == "orders"]
    assert orders["enabled"] is True
    assert orders["status"] == "ok"
    assert datetime.fromisoformat(orders["cursor"]) == window_to
    assert 299 <= orders["lag_seconds"] < 400
    assert orders["last_run"]["run_id"] == str(run_id)
    assert orders["last_run"]["status"] == "succeeded"
    assert orders["last_run"]["rows_inserted"] == 1
    assert orders["last_run"]["rows_received"] == 1
    assert orders["last_run"]["duration_seconds"] >= 0
    assert orders["last_run"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


async def test_the_families_and_their_labels_are_served_to_a_signed_in_user(
    client: httpx.AsyncClient, org: Org
) -> None:
    assert (await client.get("/api/families")).status_code == 401
    families = (await client.get("/api/families", headers=org.viewer)).json()
    # In the enum's order, as the UI lists them; labels from the families' specs.
    assert [f["family"] for f in families] == [str(f) for f in Family]
    assert {f["family"]: f["label"] for f in families} == {
        str(f): s.label for f, s in FAMILIES.items()
    }
    assert {f["family"] for f in families if f["side"] == "buyer"} == {"purchases"}
    assert {f["family"] for f in families if f["snapshot"]} == {"offers", "active_inventory"}


async def test_an_unknown_account_is_a_404_with_a_reason(
    client: httpx.AsyncClient, org: Org
) -> None:
    response = await client.get("/api/accounts/999999999/workers", headers=org.viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": "account 999999999 not found"}


async def test_a_malformed_account_id_is_a_422(client: httpx.AsyncClient, org: Org) -> None:
    assert (await client.get("/api/accounts/abc/workers", headers=org.viewer)).status_code == 422


async def test_the_ui_and_the_openapi_spec_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "<title>ebaysync</title>" in page.text
    assert (await client.get("/ui/app.js")).status_code == 200
    assert (await client.get("/ui/style.css")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/accounts/{account_id}/workers/{family}/run" in paths


async def test_metrics_are_served_in_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE ebaysync_pages_total counter" in response.text


async def test_the_message_contracts_are_served_as_asyncapi(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert "asyncapi: 3.0.0" in response.text.splitlines()
    assert "SyncWindow" in response.text
