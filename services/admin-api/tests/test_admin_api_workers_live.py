"""Workers on real JetStream and PostgreSQL: worker state, the schedule projection, the overview
and live updates of workers and runs."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.families import Family
from common.messages import PageBatch
from common.settings import WindowSettings
from testkit import admin_fixtures
from testkit.admin import (
    Org,
    admin_settings,
    create_signed_in_org,
    serve_admin_http,
)
from testkit.admin_fixtures import by_family, published, set_state
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


POLICY = WindowSettings().policy(Family.ORDERS)


# The usual admin API, org and account (testkit.admin_fixtures).
client = admin_fixtures.client
org = admin_fixtures.org
account = admin_fixtures.account


class TestWorkerState:
    async def test_resume_lifts_a_pause(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        until = datetime.now(UTC) + timedelta(hours=1)
        await set_state(
            sessions,
            account.id,
            paused_until=until,
            consecutive_failures=5,
            last_error="HTTP 500 from /sell/fulfillment/v1/order",
        )
        worker = by_family(
            (await client.get(f"/api/accounts/{account.id}/workers", headers=org.viewer)).json(),
            "orders",
        )
        assert worker["status"] == "paused"
        assert "after 5 failures" in worker["status_reason"]
        assert "HTTP 500" in worker["status_reason"]
        resumed = await client.post(
            f"/api/accounts/{account.id}/workers/orders/resume", headers=org.operator
        )
        assert resumed.json()["paused_until"] is None
        assert resumed.json()["consecutive_failures"] == 0
        assert resumed.json()["status"] == "failing"  # the last error stands until a success

    async def test_the_overview_puts_the_most_urgent_first(
        self,
        client: httpx.AsyncClient,
        org: Org,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessions.begin() as session:
            fine = await create_account(session, org_id=org.id, house_name="A fine")
            broken = await create_account(session, org_id=org.id, house_name="B broken")
        await set_state(sessions, fine.id, cursor=datetime.now(UTC) - timedelta(minutes=3))
        await set_state(
            sessions,
            broken.id,
            cursor=datetime.now(UTC) - timedelta(days=2),
            last_error="no access token: needs_reauth",
        )
        workers = (await client.get("/api/workers", headers=org.viewer)).json()
        orders = [w for w in workers if w["family"] == "orders"]
        assert [(w["house_name"], w["status"]) for w in orders] == [
            ("B broken", "failing"),
            ("A fine", "ok"),
        ]


class TestSchedule:
    async def test_a_pair_far_behind_gets_a_chain_of_windows_now(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        cursor = datetime.now(UTC) - timedelta(days=20)
        await set_state(sessions, account.id, cursor=cursor)
        orders = by_family(
            (await client.get(f"/api/accounts/{account.id}/schedule", headers=org.viewer)).json(),
            "orders",
        )
        windows = orders["windows"]
        assert len(windows) == 3  # 20 days in windows of at most 7
        assert datetime.fromisoformat(windows[0]["start"]) == cursor - POLICY.overlap
        for earlier, later in itertools.pairwise(windows):
            assert datetime.fromisoformat(later["start"]) == (
                datetime.fromisoformat(earlier["end"]) - POLICY.overlap
            )
        due = datetime.fromisoformat(orders["next_due_at"])
        assert abs((due - datetime.now(UTC)).total_seconds()) < 30
        assert orders["blocked_by"] is None

    async def test_a_caught_up_pair_is_due_after_its_cadence(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        cursor = datetime.now(UTC) - POLICY.settle_lag - timedelta(seconds=10)
        await set_state(sessions, account.id, cursor=cursor)
        orders = by_family(
            (await client.get(f"/api/accounts/{account.id}/schedule", headers=org.viewer)).json(),
            "orders",
        )
        assert datetime.fromisoformat(orders["next_due_at"]) == (
            cursor + POLICY.cadence + POLICY.settle_lag
        )
        [window] = orders["windows"]
        assert datetime.fromisoformat(window["start"]) == cursor - POLICY.overlap
        workers = (
            await client.get(f"/api/accounts/{account.id}/workers", headers=org.viewer)
        ).json()
        assert by_family(workers, "orders")["next_due_at"] == orders["next_due_at"]


async def test_live_updates_stream_a_snapshot_on_every_change(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = admin_settings(nats_url, migrated_database_url, live_poll_seconds=30)
    async with (
        serve_admin_http(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as client,
    ):
        org = await create_signed_in_org(client, sessions)
        async with sessions.begin() as session:
            account = await create_account(session, org_id=org.id)
        async with client.stream(
            "GET", f"/api/accounts/{account.id}/live", headers=org.viewer
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _snapshots(stream)
            first = await anext(events)
            assert sorted(w["family"] for w in first["workers"]) == sorted(map(str, Family))
            assert first["runs"] == []
            # Run now wakes the stream at once (the poll interval is 30 s here).
            run = await client.post(
                f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
            )
            second = await anext(events)
            assert second["runs"][0]["run_id"] == run.json()["run_id"]
            assert by_family(second["workers"], "orders")["status"] == "running"


async def _snapshots(stream: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    event, data = "", []
    async for line in stream.aiter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            if event == "snapshot":
                yield json.loads("\n".join(data))
            event, data = "", []


async def test_a_run_of_another_org_is_a_404(
    client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = await create_signed_in_org(client, sessions)
    async with sessions.begin() as session:
        account = await create_account(session, org_id=other.id)
    run = await client.post(
        f"/api/accounts/{account.id}/workers/orders/run", headers=other.operator
    )
    run_id = run.json()["run_id"]
    assert (await client.get(f"/api/runs/{run_id}", headers=org.admin)).status_code == 404
    assert (await client.get(f"/api/runs/{run_id}/live", headers=org.admin)).status_code == 404
    assert (await client.get(f"/api/runs/{uuid.uuid4()}", headers=org.admin)).status_code == 404
    listed = (await client.get("/api/runs", headers=org.admin)).json()
    assert run_id not in [r["run_id"] for r in listed]


async def test_a_runs_live_stream_shows_its_pages_as_they_land(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = admin_settings(nats_url, migrated_database_url, live_poll_seconds=0.2)
    async with (
        serve_admin_http(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as client,
    ):
        org = await create_signed_in_org(client, sessions)
        async with sessions.begin() as session:
            account = await create_account(session, org_id=org.id)
        run = await client.post(
            f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
        )
        command, _ = await published(topology, account.id)
        async with client.stream(
            "GET", f"/api/runs/{run.json()['run_id']}/live", headers=org.viewer
        ) as stream:
            events = _snapshots(stream)
            first = await anext(events)
            assert first["status"] == "queued" and first["pages"] == []
            await PageWriter(sessions, lambda: datetime.now(UTC)).write(
                PageBatch(
                    **command.run_fields(),
                    page_no=1,
                    fetched_at=datetime.now(UTC),
                    records=[],
                ),
                None,
            )
            second = await anext(events)
            assert second["status"] == "running"
            assert [p["page_no"] for p in second["pages"]] == [1]
