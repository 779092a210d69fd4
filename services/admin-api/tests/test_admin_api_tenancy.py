"""One org cannot affect another (issue 16 finding 7): the pause is per org, the platform-wide
pause is a superadmin's, and one user's live streams are bounded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from testkit.admin import (
    Org,
    admin_settings,
    create_signed_in_org,
    serve_admin,
    serve_admin_http,
)
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# Emails are unique and the database lives for the whole session.
SUPERADMIN = f"root-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
async def client(
    migrated_database_url: str, nats_url: str, topology: JetStreamContext
) -> AsyncIterator[httpx.AsyncClient]:
    settings = admin_settings(nats_url, migrated_database_url, superadmin_emails=SUPERADMIN)
    async with serve_admin(settings) as (_, client):
        yield client


async def org_with_account(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> tuple[Org, EbayAccount]:
    org = await create_signed_in_org(client, sessions)
    async with sessions.begin() as session:
        account = await create_account(session, org_id=org.id)
    return org, account


async def blocked_by(client: httpx.AsyncClient, org: Org, account: EbayAccount) -> str | None:
    response = await client.get(f"/api/accounts/{account.id}/schedule", headers=org.viewer)
    schedule = response.json()
    blocked: str | None = schedule[0]["blocked_by"]
    return blocked


async def test_an_org_admins_pause_affects_only_that_org(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mine, my_account), (theirs, their_account) = [
        await org_with_account(client, sessions) for _ in range(2)
    ]
    switched = await client.put("/api/control/pause", headers=mine.admin, json={"paused": True})
    assert switched.json() == {"paused": True, "org": True, "platform": False}
    try:
        assert (await client.get("/api/control/pause", headers=theirs.viewer)).json() == {
            "paused": False,
            "org": False,
            "platform": False,
        }
        assert await blocked_by(client, mine, my_account) == "pause is on"
        assert await blocked_by(client, theirs, their_account) != "pause is on"
        refused = await client.post(
            f"/api/accounts/{my_account.id}/workers/orders/run", headers=mine.operator
        )
        assert refused.status_code == 409
        queued = await client.post(
            f"/api/accounts/{their_account.id}/workers/orders/run", headers=theirs.operator
        )
        assert queued.status_code == 202, queued.text
    finally:
        await client.put("/api/control/pause", headers=mine.admin, json={"paused": False})
    assert await blocked_by(client, mine, my_account) != "pause is on"


async def test_only_a_superadmin_switches_the_platform_wide_pause(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (plain, _), (other, other_account) = [
        await org_with_account(client, sessions) for _ in range(2)
    ]
    refused = await client.put(
        "/api/control/pause", headers=plain.admin, json={"paused": True, "scope": "platform"}
    )
    assert refused.status_code == 403
    assert (await client.get("/api/control/pause", headers=other.viewer)).json()["paused"] is False
    root = await create_signed_in_org(client, sessions, admin_email=SUPERADMIN)
    switched = await client.put(
        "/api/control/pause", headers=root.admin, json={"paused": True, "scope": "platform"}
    )
    try:
        assert switched.status_code == 200
        assert switched.json() == {"paused": True, "org": False, "platform": True}
        # Every org stops, and an org admin cannot lift the platform's pause for their org.
        seen = (await client.get("/api/control/pause", headers=other.viewer)).json()
        assert seen == {"paused": True, "org": False, "platform": True}
        assert await blocked_by(client, other, other_account) == "pause is on"
        lifted = await client.put("/api/control/pause", headers=other.admin, json={"paused": False})
        assert lifted.json()["paused"] is True
    finally:
        await client.put(
            "/api/control/pause", headers=root.admin, json={"paused": False, "scope": "platform"}
        )
    assert (await client.get("/api/control/pause", headers=other.viewer)).json()["paused"] is False


async def test_a_user_holds_at_most_n_live_streams_and_a_closed_one_is_released(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = admin_settings(nats_url, migrated_database_url, live_streams_per_user=2)
    async with (
        serve_admin_http(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as client,
    ):
        org, account = await org_with_account(client, sessions)
        path = f"/api/accounts/{account.id}/live"
        async with AsyncExitStack() as open_streams:
            first = await open_streams.enter_async_context(
                client.stream("GET", path, headers=org.viewer)
            )
            second = await open_streams.enter_async_context(
                client.stream("GET", path, headers=org.viewer)
            )
            assert first.status_code == second.status_code == 200
            third = await client.get(path, headers=org.viewer)
            assert third.status_code == 429 and "retry-after" in third.headers
            # Another user of the same org is not affected.
            async with client.stream("GET", path, headers=org.operator) as theirs:
                assert theirs.status_code == 200
        # Both closed: the server notices the disconnects and frees the slots.
        for _ in range(100):
            async with client.stream("GET", path, headers=org.viewer) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.1)
        assert again.status_code == 200
