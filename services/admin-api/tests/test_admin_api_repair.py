"""POST /api/accounts/{id}/families/{family}/repair on real NATS and PostgreSQL: admins only,
org-scoped; the frozen pair's cursor goes back, a re-sync window is queued and shown in the
run history with trigger "repair" and who asked; the re-sync puts the genuine order back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.messages import Trigger
from common.streams import WINDOWS_STREAM
from testkit import admin_fixtures
from testkit.admin import Org
from testkit.factories import create_account
from testkit.repair import (
    FORGED_CURSOR,
    GENUINE_TOTAL,
    cursor_of,
    freeze_pair,
    order_of,
    queued_window,
    resync,
)

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# The usual admin API, org and account (testkit.admin_fixtures).
client = admin_fixtures.client
org = admin_fixtures.org
account = admin_fixtures.account


def path(account_id: int) -> str:
    return f"/api/accounts/{account_id}/families/orders/repair"


async def test_an_admin_repairs_a_frozen_pair_and_the_history_says_who(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    pair = await freeze_pair(sessions, account.id)
    # Frozen as issue 16 found it: Run now has nothing to fetch until 2099.
    run_now = await client.post(
        f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
    )
    assert run_now.status_code == 409
    since = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    assert (
        await client.post(path(account.id), json={"since": since.isoformat()}, headers=org.operator)
    ).status_code == 403

    response = await client.post(
        path(account.id), json={"since": since.isoformat()}, headers=org.admin
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["outcome"] == "queued" and datetime.fromisoformat(body["cursor"]) == since
    assert await cursor_of(sessions, account.id) == since
    window = await queued_window(topology, account.id)
    assert window.trigger is Trigger.REPAIR and body["run"]["run_id"] == str(window.run_id)
    runs = (await client.get("/api/runs", headers=org.viewer)).json()
    [repair] = [r for r in runs if r["run_id"] == str(window.run_id)]
    assert repair["trigger"] == "repair" and repair["status"] == "queued"
    assert repair["requested_by"] == org.admin_user.email

    await resync(sessions, window, pair)
    assert (await order_of(sessions, pair.order_id)).total_value == GENUINE_TOTAL
    assert await cursor_of(sessions, account.id) == window.window_to


async def test_without_since_the_cursor_goes_to_the_backfill_start(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await freeze_pair(sessions, account.id)
    before = datetime.now(UTC)
    response = await client.post(path(account.id), headers=org.admin)
    assert response.status_code == 202, response.text
    cursor = await cursor_of(sessions, account.id)
    # SCHEDULER_INITIAL_BACKFILL_DAYS: 90 by default.
    assert before - timedelta(days=90, seconds=5) < cursor <= before - timedelta(days=89)


async def test_another_orgs_pair_does_not_exist_and_stays_frozen(
    client: httpx.AsyncClient,
    org: Org,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        foreign = await create_account(session)
    await freeze_pair(sessions, foreign.id)
    response = await client.post(path(foreign.id), headers=org.admin)
    assert response.status_code == 404
    assert await cursor_of(sessions, foreign.id) == FORGED_CURSOR
    assert (await topology.stream_info(WINDOWS_STREAM)).state.messages == 0


async def test_a_future_since_is_refused(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await freeze_pair(sessions, account.id)
    since = datetime.now(UTC) + timedelta(days=1)
    response = await client.post(
        path(account.id), json={"since": since.isoformat()}, headers=org.admin
    )
    assert response.status_code == 409 and "lies in the future" in response.json()["detail"]
    assert await cursor_of(sessions, account.id) == FORGED_CURSOR
