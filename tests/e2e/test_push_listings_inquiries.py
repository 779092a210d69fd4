"""Push under ``ebaysync up``'s own push settings: listings and inquiries reach the mirror
through notifications while polling is hours away, and their pairs' state stays polling's.

Every service runs as its own process on real JetStream and PostgreSQL. Nothing here
subscribes by hand: the runtime's defaults turn push on against the sandbox (public URL,
verification token, alert e-mail, the sandbox's DevID), the admin API's subscriptions job
subscribes the seller, the sandbox sends ItemListed / ItemClosed (Trading) and
ORDER_INQUIRY_ACTIVITY (REST) as its world changes, and the targeted windows read just those
listings (GetItem) and inquiries (GET /inquiry/{id}) (docs/adr/0018-push-notifications.md).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from common.db.postorder import EbayInquiry
from common.db.push import PushSubscription, ReceivedNotification
from common.db.sync import SyncRun, SyncState
from common.db.trading import EbayActiveListing
from testkit.push_system import PushSystem, push_system
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

FAMILIES = ("active_inventory", "inquiries")
STEP_SECONDS = 3600
MAX_STEPS = 6  # well inside the 24-hour cadence


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[PushSystem]:
    async with push_system(
        nats_url,
        database_server,
        tmp_path,
        "pushli",
        # One backfill, then no polling for a day: only notifications bring changes.
        cadence=timedelta(days=1),
        settle_lag=timedelta(minutes=2),
        backfill_days=2,
        sandbox_env={
            "SANDBOX_ORDERS_PER_DAY": "200",
            "SANDBOX_HISTORY_DAYS": "60",
            # Enough listings that some start and end every hour.
            "SANDBOX_LISTINGS": "2000",
        },
        # No ADMIN_API_PUSH__* here: the runtime's defaults are under test.
        subscribe_by_hand=False,
    ) as running:
        yield running


async def states(system: PushSystem) -> dict[str, tuple[Any, ...]]:
    """Each pair's polling state: cursor, last committed run, last success. (Not ``due_at``:
    the scheduler stores it in the database's clock, so it moves when the sandbox's does.)"""
    async with system.sessions() as session:
        rows = await session.scalars(
            select(SyncState).where(
                SyncState.account_id == system.account_id, SyncState.family.in_(FAMILIES)
            ),
            execution_options={"populate_existing": True},
        )
        return {r.family: (r.cursor, r.last_run_id, r.last_success_at) for r in rows}


async def runs(system: PushSystem, *statuses: str) -> list[tuple[str, str]]:
    async with system.sessions() as session:
        rows = await session.execute(
            select(SyncRun.family, SyncRun.trigger).where(
                SyncRun.account_id == system.account_id,
                SyncRun.family.in_(FAMILIES),
                SyncRun.status.in_(statuses),
            )
        )
        return [(r.family, r.trigger) for r in rows]


async def notified(system: PushSystem, family: str) -> set[str]:
    async with system.sessions() as session:
        rows = await session.scalars(
            select(ReceivedNotification.targets).where(
                ReceivedNotification.account_id == system.account_id,
                ReceivedNotification.family == family,
            )
        )
        return {t for targets in rows for t in targets}


async def test_listings_and_inquiries_arrive_by_notification_not_polling(
    system: PushSystem,
) -> None:
    async def backfilled() -> bool:
        done = {f for f, _ in await runs(system, "succeeded")}
        return done >= set(FAMILIES) and not await runs(system, "queued", "running")

    await eventually(backfilled, within=240, what="the listings and inquiries backfilled")

    async def subscribed() -> bool:
        async with system.sessions() as session:
            topics = set(
                await session.scalars(
                    select(PushSubscription.topic).where(
                        PushSubscription.account_id == system.account_id,
                        PushSubscription.status == "ENABLED",
                    )
                )
            )
        return {"ORDER_INQUIRY_ACTIVITY", "PLATFORM_NOTIFICATIONS"} <= topics

    await eventually(subscribed, within=120, what="the subscriptions job subscribed the seller")
    polled = await states(system)
    async with system.sessions() as session:
        polled_runs = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(SyncRun.family.in_(FAMILIES), SyncRun.trigger != "notification")
        )

    # Hours pass at eBay, an hour at a time, until listings and an inquiry have changed.
    for _ in range(MAX_STEPS):
        resp = await system.sandbox.post("/sandbox/clock/advance", json={"seconds": STEP_SECONDS})
        assert resp.status_code == 200, resp.text
        if await notified(system, "active_inventory") and await notified(system, "inquiries"):
            break

    async def both_notified() -> bool:
        return bool(await notified(system, "active_inventory")) and bool(
            await notified(system, "inquiries")
        )

    await eventually(both_notified, within=60, what="listing and inquiry notifications")
    items, inquiries = (
        await notified(system, "active_inventory"),
        await notified(system, "inquiries"),
    )

    live = set(
        re.findall(
            r"<ItemID>(\d+)</ItemID>",
            (await system.sandbox.get(f"/sandbox/sellers/{system.username}/active_listings")).text,
        )
    )
    truth = {
        str(m["inquiryId"]): m["inquiryStatusEnum"]
        for m in (await system.sandbox.get(f"/sandbox/sellers/{system.username}/inquiries")).json()[
            "members"
        ]
    }

    async def mirrored() -> bool:
        async with system.sessions() as session:
            listings = {
                r.item_id: r.ended_at
                for r in await session.scalars(
                    select(EbayActiveListing).where(
                        EbayActiveListing.account_id == system.account_id,
                        EbayActiveListing.item_id.in_(items),
                    ),
                    execution_options={"populate_existing": True},
                )
            }
            held = {
                r.inquiry_id: r.inquiry_status
                for r in await session.scalars(
                    select(EbayInquiry).where(
                        EbayInquiry.account_id == system.account_id,
                        EbayInquiry.inquiry_id.in_(inquiries),
                    ),
                    execution_options={"populate_existing": True},
                )
            }
        # A notified listing still live at eBay is held live; one that ended and was held
        # is held ended (one listed and ended between two reads was never held: nothing to
        # end). An ItemListed adds its listing.
        live_held = all(i in listings and listings[i] is None for i in items & live)
        ended_held = all(listings[i] is not None for i in items - live if i in listings)
        inquiries_held = all(held.get(i) == truth[i] for i in inquiries if i in truth)
        return live_held and ended_held and inquiries_held

    assert items & live, "some notified listing is live (ItemListed)"
    assert inquiries & set(truth), "the notified inquiries are the seller's"
    await eventually(mirrored, within=120, what="the notified listings and inquiries mirrored")
    assert {f for f, t in await runs(system, "succeeded") if t == "notification"} == set(FAMILIES)
    # No polling ran meanwhile, and the pairs' state is polling's, as it was.
    async with system.sessions() as session:
        assert polled_runs == await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(SyncRun.family.in_(FAMILIES), SyncRun.trigger != "notification")
        )
    await eventually(lambda: _none_open(system), within=60, what="the targeted runs done")
    assert await states(system) == polled


async def _none_open(system: PushSystem) -> bool:
    return not await runs(system, "queued", "running")
