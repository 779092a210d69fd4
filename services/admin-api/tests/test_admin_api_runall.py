"""Run everything now on real JetStream and PostgreSQL: one window per enabled pair of the org,
none for a disabled pair or another org, and none again while they are in flight."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.sync import SyncRun, SyncState
from common.families import Family
from common.messages import SyncWindow, Trigger
from common.streams import WINDOWS_STREAM
from testkit import admin_fixtures
from testkit.admin import Org
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# The usual admin API, org and account (testkit.admin_fixtures).
client = admin_fixtures.client
org = admin_fixtures.org


async def windows_by_subject(js: JetStreamContext) -> dict[str, int]:
    info = await js.stream_info(WINDOWS_STREAM, subjects_filter="sync.window.>")
    return dict(info.state.subjects or {})


async def test_every_enabled_pair_gets_exactly_one_window_and_a_second_call_none(
    client: httpx.AsyncClient,
    org: Org,
    sessions: async_sessionmaker[AsyncSession],
    topology: JetStreamContext,
) -> None:
    async with sessions.begin() as session:
        first = await create_account(session, org_id=org.id)
        second = await create_account(session, org_id=org.id)
        reauth = await create_account(session, org_id=org.id, needs_reauth=True)
        await create_account(session, org_id=org.id, active=False)
        stranger = await create_account(session)
        session.add(
            SyncState(
                account_id=second.id,
                family=str(Family.ORDERS),
                enabled=False,
                updated_at=datetime.now(UTC),
            )
        )
    families = sorted(map(str, Family))
    expected = {f"sync.window.{f}.{a.id}" for a in (first, second) for f in families}
    expected.discard(f"sync.window.orders.{second.id}")

    for headers in (org.viewer, org.operator):
        refused = await client.post("/api/accounts/run-all", headers=headers)
        assert refused.status_code == 403
    response = await client.post("/api/accounts/run-all", headers=org.admin)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["queued"] == len(expected)
    assert body["skipped"] == 0
    # The account that must reconnect is reported, not sent.
    assert body["blocked"] == len(families)
    assert {p["account_id"] for p in body["pairs"]} == {first.id, second.id, reauth.id}
    assert await windows_by_subject(topology) == dict.fromkeys(expected, 1)
    async with sessions() as session:
        runs = (await session.scalars(select(SyncRun))).all()
    mine = [r for r in runs if r.account_id in (first.id, second.id)]
    assert len(mine) == len(expected)
    assert {r.status for r in mine} == {"queued"}
    assert all(r.account_id != stranger.id for r in runs)
    msg = await topology.get_last_msg(WINDOWS_STREAM, f"sync.window.orders.{first.id}")
    assert SyncWindow.model_validate_json(msg.data or b"").trigger is Trigger.MANUAL

    again = (await client.post("/api/accounts/run-all", headers=org.admin)).json()
    assert again["queued"] == 0
    assert again["skipped"] == len(expected)
    assert {p["detail"] for p in again["pairs"] if p["outcome"] == "skipped"}
    assert await windows_by_subject(topology) == dict.fromkeys(expected, 1)


async def test_pause_all_refuses_it(client: httpx.AsyncClient, org: Org) -> None:
    await client.put("/api/control/pause", headers=org.admin, json={"paused": True})
    try:
        response = await client.post("/api/accounts/run-all", headers=org.admin)
        assert response.status_code == 409 and "pause-all" in response.json()["detail"]
    finally:
        await client.put("/api/control/pause", headers=org.admin, json={"paused": False})
