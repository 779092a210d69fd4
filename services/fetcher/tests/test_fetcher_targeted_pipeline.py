"""Targeted windows for listings and inquiries through the real fetcher and writer, against the
sandbox on real JetStream and PostgreSQL: GetItem re-reads the named listings (an ended one is
ended, as the snapshot sweep would), the inquiry is read by id with its detail, and neither
moves the pair's state nor sweeps anything (docs/adr/0018-push-notifications.md)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.events import EbayEvent
from common.db.postorder import EbayClaimDetail, EbayInquiry
from common.db.sync import SyncState
from common.db.trading import EbayActiveListing
from common.families import Family
from common.messages import SyncWindow, Trigger
from ebay_sandbox.settings import SandboxConfig
from testkit.pipeline import Pipeline, Seller, family_pipeline

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NS = "{urn:ebay:apis:eBLBaseComponents}"


async def available(pipeline: Pipeline, seller: Seller) -> dict[str, int]:
    """Item id → QuantityAvailable, as the sandbox's ActiveList has it now."""
    root = ET.fromstring((await pipeline.truth(seller, "active_listings")).content)
    return {
        item.findtext(f"{NS}ItemID", ""): int(item.findtext(f"{NS}QuantityAvailable", "0"))
        for item in root.iter(f"{NS}Item")
    }


@pytest.fixture
async def pipeline(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Pipeline]:
    config = SandboxConfig(
        sellers=1, orders_per_day=40, history_days=60, clock_start=START, clock_frozen=True
    )
    async with family_pipeline(
        nats_url=nats_url,
        database_url=migrated_database_url,
        broker=broker,
        sessions=sessions,
        config=config,
    ) as running:
        yield running


async def targeted(pipeline: Pipeline, seller: Seller, family: Family, ids: list[str]) -> None:
    """What the scheduler sends for a notification: ids, no time range."""
    now = await pipeline.sandbox_now()
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=family,
        window_from=None,
        window_to=now,
        trigger=Trigger.NOTIFICATION,
        issued_at=now,
        targets=ids,
    )
    await (await pipeline.fetcher()).fetch(window)


async def state(pipeline: Pipeline, seller: Seller, family: Family) -> tuple[Any, ...] | None:
    async with pipeline.sessions() as session:
        row = await session.get(SyncState, (seller.account_id, str(family)), populate_existing=True)
    if row is None:
        return None
    return (row.cursor, row.last_run_id, row.last_success_at, row.due_at)


async def listings(pipeline: Pipeline, seller: Seller) -> dict[str, EbayActiveListing]:
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayActiveListing).where(EbayActiveListing.account_id == seller.account_id)
        )
        return {r.item_id: r for r in rows}


async def test_listings_are_re_read_by_get_item_and_an_ended_one_is_ended(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    await pipeline.sync(seller, Family.ACTIVE_INVENTORY, None)
    before = await listings(pipeline, seller)
    auctions = [i for i, r in before.items() if r.listing_type == "Chinese"]
    fixed = [i for i, r in before.items() if r.listing_type == "FixedPriceItem"]
    assert auctions and fixed
    polled = await state(pipeline, seller, Family.ACTIVE_INVENTORY)

    # Eight days on every auction listed then has ended; some fixed-price ones sold meanwhile.
    await pipeline.advance_clock(8 * 86400)
    now_available = await available(pipeline, seller)
    live = [i for i in fixed if i in now_available][:20]
    sold = [i for i in live if now_available[i] != before[i].quantity_available]
    assert sold, "eight days of sales change some listings"
    ended = auctions[0]
    await targeted(pipeline, seller, Family.ACTIVE_INVENTORY, [ended, *live, "123"])

    after = await listings(pipeline, seller)
    assert after[ended].ended_at is not None
    assert all(after[i].ended_at is None for i in live)
    # Nothing swept: every other auction ended too, but no notification named it.
    assert all(after[i].ended_at is None for i in auctions[1:])
    async with pipeline.sessions() as session:
        events = list(
            await session.scalars(
                select(EbayEvent).where(
                    EbayEvent.account_id == seller.account_id,
                    EbayEvent.family == str(Family.ACTIVE_INVENTORY),
                    EbayEvent.change_kind == "ended",
                )
            )
        )
    assert [(e.entity_id, e.topic) for e in events] == [(ended, "LISTING_ENDED")]
    # The listings GetItem re-read hold what the ActiveList holds now, sales included.
    assert {i: after[i].quantity_available for i in live} == {i: now_available[i] for i in live}
    assert await state(pipeline, seller, Family.ACTIVE_INVENTORY) == polled


async def test_an_inquiry_is_read_by_id_with_its_detail(pipeline: Pipeline) -> None:
    seller = pipeline.sellers[0]
    members = (await pipeline.truth(seller, "inquiries")).json()["members"]
    assert members, "sixty days of a busy seller open some inquiries"
    wanted = [str(m["inquiryId"]) for m in members[:3]]
    polled = await state(pipeline, seller, Family.INQUIRIES)

    await targeted(pipeline, seller, Family.INQUIRIES, wanted)

    async with pipeline.sessions() as session:
        rows = {
            r.inquiry_id: r
            for r in await session.scalars(
                select(EbayInquiry).where(EbayInquiry.account_id == seller.account_id)
            )
        }
        details = await session.scalar(
            select(func.count())
            .select_from(EbayClaimDetail)
            .where(
                EbayClaimDetail.account_id == seller.account_id,
                EbayClaimDetail.family == str(Family.INQUIRIES),
                EbayClaimDetail.entity_id.in_(wanted),
            )
        )
    assert set(rows) == set(wanted), "just the named inquiries"
    by_id = {str(m["inquiryId"]): m for m in members}
    for inquiry_id in wanted:
        assert rows[inquiry_id].inquiry_status == by_id[inquiry_id]["inquiryStatusEnum"]
    assert details == len(wanted)
    assert await state(pipeline, seller, Family.INQUIRIES) == polled
