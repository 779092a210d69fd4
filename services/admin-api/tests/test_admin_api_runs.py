"""Run history: filters, and a run's pages with counts and trace ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import CancelRequests
from common.db.accounts import EbayAccount
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import PageBatch, SyncWindow, Trigger
from testkit import admin_fixtures
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# The usual org and account (testkit.admin_fixtures), on this module's client.
org = admin_fixtures.org
account = admin_fixtures.account
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = admin_settings(
        nats_url, migrated_database_url, trace_url_template="http://jaeger.test/trace/{trace_id}"
    )
    async with serve_admin(settings) as (_, client):
        yield client


async def write_run(
    sessions: async_sessionmaker[AsyncSession], account_id: int, pages: int, trigger: Trigger
) -> uuid.UUID:
    """A run whose ``pages`` pages the real writer committed (3 orders a page)."""
    run_id = uuid.uuid4()
    window_to = datetime.now(UTC) - timedelta(minutes=10)
    writer = PageWriter(sessions, lambda: datetime.now(UTC))
    for page_no in range(1, pages + 1):
        await writer.write(
            PageBatch(
                run_id=run_id,
                account_id=account_id,
                family=Family.ORDERS,
                window_from=window_to - timedelta(days=1),
                window_to=window_to,
                trigger=trigger,
                page_no=page_no,
                page_count=pages if page_no == pages else None,
                fetched_at=datetime.now(UTC),
                records=[
                    make_order(f"{run_id}-{page_no}-{i}", modified=window_to - timedelta(hours=1))
                    for i in range(3)
                ],
            ),
            TRACE,
        )
    return run_id


async def queue_run(sessions: async_sessionmaker[AsyncSession], account_id: int) -> uuid.UUID:
    command = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=datetime.now(UTC) - timedelta(hours=2),
        window_to=datetime.now(UTC) - timedelta(hours=1),
        trigger=Trigger.SCHEDULE,
        issued_at=datetime.now(UTC),
    )
    async with sessions.begin() as session:
        await SyncRepository(session).record_queued(command)
    return command.run_id


async def test_a_run_shows_its_progress_page_by_page(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run_id = await write_run(sessions, account.id, pages=2, trigger=Trigger.CATCH_UP)
    run = (await client.get(f"/api/runs/{run_id}", headers=org.viewer)).json()
    assert run["status"] == "succeeded"
    assert (run["pages_written"], run["pages_expected"]) == (2, 2)
    assert run["rows_received"] == 6 and run["rows_inserted"] == 6
    assert run["trace_id"] == TRACE
    assert run["trace_url"] == f"http://jaeger.test/trace/{TRACE}"
    assert [(p["page_no"], p["records"], p["inserted"], p["trace_id"]) for p in run["pages"]] == [
        (1, 3, 3, TRACE),
        (2, 3, 3, TRACE),
    ]


async def test_the_history_filters_by_account_status_and_trigger(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        second = await create_account(session, org_id=org.id)
    done = await write_run(sessions, account.id, pages=1, trigger=Trigger.MANUAL)
    queued = await queue_run(sessions, account.id)
    elsewhere = await queue_run(sessions, second.id)

    async def ids(**params: str) -> list[str]:
        response = await client.get("/api/runs", headers=org.viewer, params=params)
        assert response.status_code == 200, response.text
        return [r["run_id"] for r in response.json()]

    assert set(await ids()) == {str(done), str(queued), str(elsewhere)}
    assert set(await ids(account_id=str(account.id))) == {str(done), str(queued)}
    assert await ids(account_id=str(account.id), status="queued") == [str(queued)]
    assert await ids(trigger="manual") == [str(done)]
    assert await ids(family="returns") == []
    assert len(await ids(limit="1")) == 1
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert await ids(since=later) == []
    assert set(await ids(until=later)) == {str(done), str(queued), str(elsewhere)}


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"limit": "0"}, {"since": "2026-01-01T00:00:00"}, {"family": "x"}],
)
async def test_a_bad_filter_is_a_422(
    client: httpx.AsyncClient, org: Org, params: dict[str, str]
) -> None:
    assert (await client.get("/api/runs", headers=org.viewer, params=params)).status_code == 422


async def test_a_runs_log_is_listed_paged_and_downloaded(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run_id = await write_run(sessions, account.id, pages=2, trigger=Trigger.MANUAL)
    response = await client.get(f"/api/runs/{run_id}/log", headers=org.viewer)
    assert response.status_code == 200, response.text
    lines = response.json()
    assert [line["kind"] for line in lines] == ["page", "page", "done"]
    after = await client.get(
        f"/api/runs/{run_id}/log", headers=org.viewer, params={"after": lines[0]["id"]}
    )
    assert [line["id"] for line in after.json()] == [line["id"] for line in lines[1:]]
    # The run page carries the log too (and streams it with the run).
    detail = (await client.get(f"/api/runs/{run_id}", headers=org.viewer)).json()
    assert [line["message"] for line in detail["log"]] == [line["message"] for line in lines]
    download = await client.get(f"/api/runs/{run_id}/log.txt", headers=org.viewer)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["content-disposition"] == f'attachment; filename="run-{run_id}.log"'
    text = download.text.splitlines()
    assert len(text) == 3 and "writer page 1 page: page 1: 3 records (3 created" in text[0]


async def test_an_operator_cancels_an_open_run_of_the_org_only(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
    nats_url: str,
) -> None:
    queued = await queue_run(sessions, account.id)
    # A viewer may not; another org's operator does not see the run.
    assert (await client.post(f"/api/runs/{queued}/cancel", headers=org.viewer)).status_code == 403
    other = await create_signed_in_org(client, sessions)
    assert (
        await client.post(f"/api/runs/{queued}/cancel", headers=other.operator)
    ).status_code == 404
    response = await client.post(f"/api/runs/{queued}/cancel", headers=org.operator)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "cancelled"
    assert run["error"].startswith("cancelled by operator-")  # testkit's operator
    assert [line["kind"] for line in run["log"]] == ["cancelled"]
    # The fetcher learns it from the control bucket.
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value("control")
        assert await CancelRequests(kv).asked(queued)
    finally:
        await nc.close()
    # A run that ended cannot be cancelled; nor can a run that does not exist.
    assert (
        await client.post(f"/api/runs/{queued}/cancel", headers=org.operator)
    ).status_code == 409
    done = await write_run(sessions, account.id, pages=1, trigger=Trigger.MANUAL)
    assert (await client.post(f"/api/runs/{done}/cancel", headers=org.operator)).status_code == 409
    missing = uuid.uuid4()
    assert (
        await client.post(f"/api/runs/{missing}/cancel", headers=org.operator)
    ).status_code == 404
    # The history filters by the new status.
    listed = await client.get("/api/runs", headers=org.viewer, params={"status": "cancelled"})
    assert [r["run_id"] for r in listed.json()] == [str(queued)]
