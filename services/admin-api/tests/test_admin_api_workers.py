"""Workers on real JetStream and PostgreSQL: run now sends the scheduler's command, enable,
resume and pause-all. Worker state, the schedule and live updates: test_admin_api_workers_live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.families import Family
from common.messages import Trigger
from common.settings import WindowSettings
from common.windows import plan_window
from testkit import admin_fixtures
from testkit.admin import (
    Org,
)
from testkit.admin_fixtures import by_family, published, set_state
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


POLICY = WindowSettings().policy(Family.ORDERS)


# The usual admin API, org and account (testkit.admin_fixtures).
client = admin_fixtures.client
org = admin_fixtures.org
account = admin_fixtures.account


class TestRunNow:
    async def test_it_publishes_the_schedulers_command_for_the_planned_window(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
        topology: JetStreamContext,
    ) -> None:
        cursor = datetime.now(UTC) - timedelta(days=20)
        await set_state(sessions, account.id, cursor=cursor)
        before = datetime.now(UTC)
        response = await client.post(
            f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
        )
        assert response.status_code == 202
        run_id = response.json()["run_id"]
        command, headers = await published(topology, account.id)
        assert str(command.run_id) == run_id
        assert command.trigger is Trigger.MANUAL
        assert headers["Nats-Msg-Id"] == f"run:{run_id}"
        # The scheduler's planner: from = cursor - overlap, capped at the max window.
        expected = plan_window(cursor, before, POLICY)
        assert expected is not None
        assert command.window_from == expected.start
        assert command.window_to == expected.start + POLICY.max_window
        run = (await client.get(f"/api/runs/{run_id}", headers=org.viewer)).json()
        assert run["status"] == "queued" and run["trigger"] == "manual" and run["pages"] == []
        assert run["house_name"] == account.house_name

    async def test_a_second_run_while_one_is_in_flight_is_a_409(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        path = f"/api/accounts/{account.id}/workers/orders/run"
        assert (await client.post(path, headers=org.operator)).status_code == 202
        second = await client.post(path, headers=org.operator)
        assert second.status_code == 409
        assert "in flight" in second.json()["detail"]

    async def test_an_up_to_date_worker_has_nothing_to_fetch(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        await set_state(sessions, account.id, cursor=datetime.now(UTC))
        response = await client.post(
            f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
        )
        assert response.status_code == 409
        assert "nothing new to fetch" in response.json()["detail"]

    async def test_a_disabled_worker_does_not_run_until_enabled(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        worker = f"/api/accounts/{account.id}/workers/orders"
        disabled = await client.patch(worker, headers=org.operator, json={"enabled": False})
        assert disabled.json()["enabled"] is False and disabled.json()["status"] == "disabled"
        refused = await client.post(f"{worker}/run", headers=org.operator)
        assert refused.status_code == 409 and "disabled" in refused.json()["detail"]
        await client.patch(worker, headers=org.operator, json={"enabled": True})
        assert (await client.post(f"{worker}/run", headers=org.operator)).status_code == 202

    async def test_every_family_can_be_run_including_snapshots(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        for family in ("returns", "offers"):
            response = await client.post(
                f"/api/accounts/{account.id}/workers/{family}/run", headers=org.operator
            )
            assert response.status_code == 202, response.text

    async def test_an_account_that_needs_reauth_is_refused(
        self,
        client: httpx.AsyncClient,
        org: Org,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessions.begin() as session:
            account = await create_account(session, org_id=org.id, needs_reauth=True)
        response = await client.post(
            f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
        )
        assert response.status_code == 409 and "reconnect" in response.json()["detail"]

    async def test_viewers_cannot_run(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        response = await client.post(
            f"/api/accounts/{account.id}/workers/orders/run", headers=org.viewer
        )
        assert response.status_code == 403

    async def test_run_all_reports_each_family(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        response = await client.post(
            f"/api/accounts/{account.id}/workers/run", headers=org.operator
        )
        assert response.status_code == 202
        results = response.json()
        assert sorted(r["family"] for r in results) == sorted(map(str, Family))
        assert {r["outcome"] for r in results} == {"queued"}
        again = await client.post(f"/api/accounts/{account.id}/workers/run", headers=org.operator)
        orders = by_family(again.json(), "orders")
        assert orders["outcome"] == "in_flight" and orders["run"] is None


class TestPause:
    async def test_only_admins_switch_it_and_it_stops_run_now(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount
    ) -> None:
        assert (await client.get("/api/control/pause", headers=org.viewer)).json() == {
            "paused": False,
            "org": False,
            "platform": False,
        }
        for headers in (org.viewer, org.operator):
            refused = await client.put("/api/control/pause", headers=headers, json={"paused": True})
            assert refused.status_code == 403
        switched = await client.put("/api/control/pause", headers=org.admin, json={"paused": True})
        assert switched.json() == {"paused": True, "org": True, "platform": False}
        try:
            response = await client.post(
                f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
            )
            assert response.status_code == 409 and "pause is on" in response.json()["detail"]
            schedule = (
                await client.get(f"/api/accounts/{account.id}/schedule", headers=org.viewer)
            ).json()
            assert schedule[0]["blocked_by"] == "pause is on"
            assert schedule[0]["next_due_at"] is None
        finally:
            await client.put("/api/control/pause", headers=org.admin, json={"paused": False})
