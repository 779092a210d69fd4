"""The event inbox on real PostgreSQL and JetStream: filters, keyset paging, org scoping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from testkit import admin_fixtures
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from testkit.pages import WINDOW_FROM as T0
from testkit.pages import single_page
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# The usual org and account (testkit.admin_fixtures), on this module's client.
org = admin_fixtures.org
account = admin_fixtures.account


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        yield client


async def write(
    sessions: async_sessionmaker[AsyncSession], account_id: int, records: list[dict[str, Any]]
) -> None:
    """One page through the real writer, as the pipeline would commit it."""
    await PageWriter(sessions, lambda: datetime.now(UTC)).write(
        single_page(account_id, records), None
    )


def order(order_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return make_order(order_id, modified=T0 + timedelta(minutes=minutes), created=T0, **fields)


@pytest.fixture
async def history(sessions: async_sessionmaker[AsyncSession], account: EbayAccount) -> None:
    """Seven events: five orders created (two unpaid), then both unpaid ones become paid."""
    await write(
        sessions,
        account.id,
        [order(f"E-{i}", 0, orderPaymentStatus="PENDING" if i < 2 else "PAID") for i in range(5)],
    )
    await write(sessions, account.id, [order("E-0", 5), order("E-1", 5)])


async def get(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get("/api/events", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("history")
async def test_the_inbox_pages_through_every_event_once_in_order(
    client: httpx.AsyncClient, org: Org
) -> None:
    everything = await get(client, org.viewer, limit=500)
    assert len(everything["events"]) == 7 and everything["next_cursor"] is None
    ids = [e["id"] for e in everything["events"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    paged: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await get(client, org.viewer, **params)
        paged += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == ids
    oldest = await get(client, org.viewer, order="oldest", limit=500)
    assert [e["id"] for e in oldest["events"]] == ids[::-1]


@pytest.mark.usefixtures("history")
async def test_filters_by_entity_kind_topic_family_and_time(
    client: httpx.AsyncClient, org: Org, account: EbayAccount
) -> None:
    one = await get(client, org.viewer, entity_id="E-0")
    assert [e["change_kind"] for e in one["events"]] == ["changed", "created"]
    changed = one["events"][0]
    assert changed["changes"]["orderPaymentStatus"] == {"old": "PENDING", "new": "PAID"}
    assert changed["topic"] == "ORDER_READY_TO_SHIP" and changed["house_name"]
    kinds = await get(client, org.viewer, change_kind="changed")
    assert {e["entity_id"] for e in kinds["events"]} == {"E-0", "E-1"}
    ready = await get(client, org.viewer, topic="ORDER_READY_TO_SHIP")
    # Three orders created paid, two that became paid: five orders ready to ship, once each.
    assert sorted(e["entity_id"] for e in ready["events"]) == ["E-0", "E-1", "E-2", "E-3", "E-4"]
    assert (await get(client, org.viewer, business=True))["events"] == ready["events"]
    assert (await get(client, org.viewer, family="returns"))["events"] == []
    assert len((await get(client, org.viewer, family="orders"))["events"]) == 7
    assert len((await get(client, org.viewer, account_id=account.id))["events"]) == 7
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await get(client, org.viewer, since=future))["events"] == []
    assert len((await get(client, org.viewer, until=future))["events"]) == 7


@pytest.mark.usefixtures("history")
async def test_one_event_and_another_orgs_events_do_not_exist(
    client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
) -> None:
    newest = (await get(client, org.viewer, limit=1))["events"][0]
    response = await client.get(f"/api/events/{newest['id']}", headers=org.viewer)
    assert response.status_code == 200 and response.json() == newest
    other = await create_signed_in_org(client, sessions)
    assert (await get(client, other.admin))["events"] == []
    response = await client.get(f"/api/events/{newest['id']}", headers=other.admin)
    assert response.status_code == 404
    async with sessions.begin() as session:
        theirs = await create_account(session, org_id=other.id)
    await write(sessions, theirs.id, [order("THEIRS-1", 0)])
    mine = await get(client, org.viewer, limit=500)
    assert "THEIRS-1" not in {e["entity_id"] for e in mine["events"]}
    # Naming another org's account filters to nothing rather than revealing it.
    assert (await get(client, org.viewer, account_id=theirs.id))["events"] == []


async def test_bad_requests_get_a_clear_error(client: httpx.AsyncClient, org: Org) -> None:
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJhdCI6IDEsICJpZCI6IDF9"},  # well-formed base64, not a position
        {"topic": "NOT_A_TOPIC"},
        {"change_kind": "deleted"},
        {"limit": 0},
        {"since": "2026-11-01T00:00:00"},  # no time zone
    ):
        response = await client.get("/api/events", headers=org.viewer, params=params)
        assert response.status_code == 422, (params, response.text)
    assert (await client.get("/api/events")).status_code == 401
    assert (await client.get("/api/events/0", headers=org.viewer)).status_code == 422
