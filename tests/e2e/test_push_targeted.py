"""Push end to end: the sandbox's signed notifications reach the mirror through targeted windows.

Every service runs as its own process on real JetStream and PostgreSQL; the sandbox sends
ORDER_CONFIRMATION (and the other topics) to the admin API's ingress, the scheduler turns them
into targeted windows, the fetcher reads just those orders (``getOrders?orderIds=``) and the
writer upserts them without moving the cursor. Polling runs every three hours, so only a
notification can bring a change in within the test (docs/adr/0018-push-notifications.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.orders import EbayOrder
from common.db.push import ReceivedNotification
from common.db.sync import SyncRun, SyncState
from ebay_sandbox.consent import approve_consent
from ebaysync.runtime import (
    LocalSecrets,
    RuntimeOptions,
)
from ebaysync.runtime_local import SANDBOX_CLIENT_ID, SANDBOX_RU_NAME
from testkit import servers
from testkit.servers import DatabaseServer
from testkit.system import running_system
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

NOTIFY = "/commerce/notification/v1"
TOKEN = "/identity/v1/oauth2/token"
BASE = "https://api.ebay.com/oauth/api_scope"
SUBSCRIBER_SCOPES = " ".join(
    f"{BASE}{name}"
    for name in (
        "",
        "/sell.fulfillment.readonly",
        "/commerce.shipping",
        "/commerce.notification.subscription",
    )
)
VERIFICATION_TOKEN = "e2e_push_verification_token_0123456789abcdef"
SETTLE_LAG = timedelta(minutes=2)


@dataclass
class System:
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    account_id: int
    username: str


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[System]:
    database_url = database_server.create_database(servers.unique_database_name("push"))
    admin_port = find_free_port()
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_url,
        admin_port=admin_port,
        sellers=1,
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            # One backfill, then no polling for three hours: only notifications bring changes.
            "SCHEDULER_CADENCE_SECONDS": "10800",
            "SCHEDULER_SETTLE_LAG_SECONDS": str(SETTLE_LAG.total_seconds()),
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "3",
            "ADMIN_API_PUSH__ENABLED": "true",
            "ADMIN_API_PUSH__PUBLIC_URL": f"http://127.0.0.1:{admin_port}",
            "ADMIN_API_PUSH__VERIFICATION_TOKEN": VERIFICATION_TOKEN,
            # This test subscribes by hand (below): the subscriptions job stays off.
            "ADMIN_API_PUSH__SUBSCRIPTIONS_SECONDS": "0",
            "OTEL_LOG_FORMAT": "text",
        },
        sandbox_env={
            "SANDBOX_CLOCK_FROZEN": "true",
            "SANDBOX_ORDERS_PER_DAY": "200",
            "SANDBOX_HISTORY_DAYS": "10",
        },
    )
    async with running_system(options) as running:
        account = await running.only_account()
        secret = LocalSecrets.load_or_create(options.data_dir / "secrets.json")
        await subscribe(
            running.sandbox,
            secret.sandbox_client_secret,
            account.username,
            f"http://127.0.0.1:{admin_port}/ebay/notifications/rest",
        )
        yield System(running.sessions, running.sandbox, account.id, account.username)


async def subscribe(sandbox: httpx.AsyncClient, secret: str, username: str, endpoint: str) -> None:
    """The destination (the ingress, which answers the challenge) and the order topics."""
    auth = httpx.BasicAuth(SANDBOX_CLIENT_ID, secret)
    form = {"grant_type": "client_credentials", "scope": BASE}
    app = (await sandbox.post(TOKEN, data=form, auth=auth)).json()["access_token"]
    code = await approve_consent(
        sandbox,
        username=username,
        client_id=SANDBOX_CLIENT_ID,
        ru_name=SANDBOX_RU_NAME,
        scopes=SUBSCRIBER_SCOPES,
    )
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": SANDBOX_RU_NAME}
    user = (await sandbox.post(TOKEN, data=form, auth=auth)).json()["access_token"]
    as_app = {"Authorization": f"Bearer {app}"}
    resp = await sandbox.put(
        f"{NOTIFY}/config", json={"alertEmail": "ops@example.com"}, headers=as_app
    )
    assert resp.status_code == 204, resp.text
    body: dict[str, Any] = {
        "name": "ebaysync",
        "status": "ENABLED",
        "deliveryConfig": {"endpoint": endpoint, "verificationToken": VERIFICATION_TOKEN},
    }
    resp = await sandbox.post(f"{NOTIFY}/destination", json=body, headers=as_app)
    assert resp.status_code == 201, resp.text
    destination_id = resp.headers["location"].rsplit("/", 1)[-1]
    for topic in ("ORDER_CONFIRMATION", "ITEM_MARKED_SHIPPED"):
        sub = {
            "topicId": topic,
            "status": "ENABLED",
            "destinationId": destination_id,
            "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"},
        }
        resp = await sandbox.post(
            f"{NOTIFY}/subscription", json=sub, headers={"Authorization": f"Bearer {user}"}
        )
        assert resp.status_code == 201, resp.text


async def cursor(system: System) -> datetime | None:
    async with system.sessions() as session:
        state = await session.get(SyncState, (system.account_id, "orders"), populate_existing=True)
    return None if state is None else state.cursor


async def open_runs(system: System) -> int:
    async with system.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(
                SyncRun.account_id == system.account_id, SyncRun.status.in_(["queued", "running"])
            )
        )
    return int(count or 0)


async def mirrored(system: System) -> dict[str, datetime]:
    """Order id → the last-modified date the mirror holds."""
    async with system.sessions() as session:
        rows = await session.execute(
            select(EbayOrder.order_id, EbayOrder.last_modified_date).where(
                EbayOrder.account_id == system.account_id
            )
        )
    return {r.order_id: r.last_modified_date for r in rows}


async def source(system: System, modified_from: datetime, modified_to: datetime) -> dict[str, str]:
    """Order id → last-modified date, as the sandbox's ground truth has them."""
    response = await system.sandbox.get(
        f"/sandbox/sellers/{system.username}/orders",
        params={"modified_from": modified_from.isoformat(), "modified_to": modified_to.isoformat()},
    )
    return {o["orderId"]: o["lastModifiedDate"] for o in response.json()["orders"]}


async def test_a_changed_order_reaches_the_mirror_through_a_notification_not_polling(
    system: System,
) -> None:
    now = datetime.fromisoformat((await system.sandbox.get("/sandbox/clock")).json()["now"])

    async def backfilled() -> bool:
        current = await cursor(system)
        return current is not None and current >= now - SETTLE_LAG and await open_runs(system) == 0

    await eventually(backfilled, within=180, what="the backfill caught up")
    polled_cursor = await cursor(system)
    async with system.sessions() as session:
        seen_before = await session.scalar(select(func.max(ReceivedNotification.id))) or 0
    before = await mirrored(system)

    # An hour of orders happens at eBay; polling is hours away, so only push can see them.
    resp = await system.sandbox.post("/sandbox/clock/advance", json={"seconds": 3600})
    assert resp.status_code == 200, resp.text
    later = datetime.fromisoformat((await system.sandbox.get("/sandbox/clock")).json()["now"])
    changed = await source(system, now, later)
    assert changed, "an hour of a busy seller changes some orders"

    # ORDER_CONFIRMATION tells of each payment, ITEM_MARKED_SHIPPED of each shipment: the
    # orders they name must reach the mirror with no poll at all.
    async def notified() -> set[str]:
        async with system.sessions() as session:
            rows = await session.scalars(
                select(ReceivedNotification.targets).where(
                    ReceivedNotification.account_id == system.account_id,
                    ReceivedNotification.family == "orders",
                    ReceivedNotification.id > seen_before,
                )
            )
        return {t for targets in rows for t in targets}

    async def some_notified() -> bool:
        return bool(await notified() & set(changed))

    await eventually(some_notified, within=60, what="notifications of the hour's orders")

    # What was notified so far: later notifications keep arriving while the test reads.
    named = await notified()

    async def arrived() -> bool:
        return named <= set(await mirrored(system))

    await eventually(arrived, within=120, what="the notified orders mirrored")
    fresh = named - set(before)
    assert fresh, "some notified orders were new to the mirror"
    held = await mirrored(system)
    expected = {o: datetime.fromisoformat(d.replace("Z", "+00:00")) for o, d in changed.items()}
    assert any(held[o] == expected[o] for o in fresh if o in expected)
    async with system.sessions() as session:
        triggers = set(
            await session.scalars(
                select(SyncRun.trigger).where(SyncRun.account_id == system.account_id)
            )
        )
    assert "notification" in triggers
    # Targeted windows read ids, not a span: the cursor is polling's, as it was.
    await eventually(lambda: _no_open(system), within=60, what="targeted runs done")
    assert await cursor(system) == polled_cursor


async def _no_open(system: System) -> bool:
    return await open_runs(system) == 0
