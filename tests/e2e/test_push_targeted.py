"""Push end to end: the sandbox's signed notifications reach the mirror through targeted windows.

Every service runs as its own process on real JetStream and PostgreSQL; the sandbox sends
ORDER_CONFIRMATION (and the other topics) to the admin API's ingress, the scheduler turns them
into targeted windows, the fetcher reads just those orders (``getOrders?orderIds=``) and the
writer upserts them without moving the cursor. Polling runs every three hours, so only a
notification can bring a change in within the test (docs/adr/0018-push-notifications.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from common.db.orders import EbayOrder
from common.db.push import ReceivedNotification
from common.db.sync import SyncRun, SyncState
from testkit.push import subscribe
from testkit.push_system import PushSystem, push_system
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SETTLE_LAG = timedelta(minutes=2)


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[PushSystem]:
    async with push_system(
        nats_url,
        database_server,
        tmp_path,
        "push",
        # One backfill, then no polling for three hours: only notifications bring changes.
        cadence=timedelta(hours=3),
        settle_lag=SETTLE_LAG,
        backfill_days=3,
        sandbox_env={"SANDBOX_ORDERS_PER_DAY": "200", "SANDBOX_HISTORY_DAYS": "10"},
    ) as running:
        # The destination (the ingress, which answers the challenge) and the order topics.
        await subscribe(
            running.sandbox,
            running.client_secret,
            running.username,
            running.admin_url,
            topics=("ORDER_CONFIRMATION", "ITEM_MARKED_SHIPPED"),
        )
        yield running


async def cursor(system: PushSystem) -> datetime | None:
    async with system.sessions() as session:
        state = await session.get(SyncState, (system.account_id, "orders"), populate_existing=True)
    return None if state is None else state.cursor


async def open_runs(system: PushSystem) -> int:
    async with system.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(
                SyncRun.account_id == system.account_id, SyncRun.status.in_(["queued", "running"])
            )
        )
    return int(count or 0)


async def mirrored(system: PushSystem) -> dict[str, datetime]:
    """Order id → the last-modified date the mirror holds."""
    async with system.sessions() as session:
        rows = await session.execute(
            select(EbayOrder.order_id, EbayOrder.last_modified_date).where(
                EbayOrder.account_id == system.account_id
            )
        )
    return {r.order_id: r.last_modified_date for r in rows}


async def source(
    system: PushSystem, modified_from: datetime, modified_to: datetime
) -> dict[str, str]:
    """Order id → last-modified date, as the sandbox's ground truth has them."""
    response = await system.sandbox.get(
        f"/sandbox/sellers/{system.username}/orders",
        params={"modified_from": modified_from.isoformat(), "modified_to": modified_to.isoformat()},
    )
    return {o["orderId"]: o["lastModifiedDate"] for o in response.json()["orders"]}


async def test_a_changed_order_reaches_the_mirror_through_a_notification_not_polling(
    system: PushSystem,
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


async def _no_open(system: PushSystem) -> bool:
    return await open_runs(system) == 0
