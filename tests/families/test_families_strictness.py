"""eBay behaviour the contracts leave open, both ways, through the whole family path.

The sandbox plays each unconfirmed behaviour the lenient way (the default) and the other
plausible way (a ``SANDBOX_STRICTNESS`` variant, ebay_sandbox.strictness). Whichever eBay turns
out to do, the mirror ends equal to what it holds; where eBay refuses a parameter, the first
run learns the accepted value into the ``learned_limits`` bucket and the next run makes no
refused call (docs/adr/0010).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.nats import NatsBroker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.offers import EbayOffer
from common.db.postorder import EbayInquiry
from common.db.sync import SyncRun
from common.ebay.learned import KvLimits
from common.ebay.postorder import CASE_SEARCH, INQUIRY_SEARCH, RETURN_SEARCH, PostOrderSearch
from common.families import Family
from common.messages import SyncWindow, Trigger
from common.streams import BUCKETS
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from testkit.pipeline import Pipeline, Seller, family_pipeline

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

Records = dict[str, dict[str, Any]]
SEARCHES: dict[Family, PostOrderSearch] = {
    Family.CASES: CASE_SEARCH,
    Family.INQUIRIES: INQUIRY_SEARCH,
    Family.RETURNS: RETURN_SEARCH,
}
# variant -> what the first run must learn per search: (limit, range in minutes), None: nothing.
POST_ORDER_VARIANTS: dict[str, tuple[int | None, int | None]] = {
    "": (None, None),
    "postorder-max-limit-50": (50, None),  # 200 and 100 refused
    # The 90-day window with its due recent span (120 days in all) is refused, then 60 days;
    # 30 days is accepted.
    "postorder-max-range-days-30": (None, 120 * 24 * 60 // 4),
    "postorder-empty-no-paging": (None, None),
    "inquiry-no-lastmodified": (None, None),
}


async def refused_calls(pipeline: Pipeline) -> int:
    """How many calls the sandbox has answered with a 400 so far."""
    stats = (await pipeline.http.get(f"{pipeline.sandbox_url}/sandbox/stats")).json()
    return int(stats["statuses"].get("400", 0))


async def truth_records(
    pipeline: Pipeline, seller: Seller, family: Family, **dates: Any
) -> Records:
    truth = TRUTHS[family]
    body = await pipeline.truth(seller, truth.path, **dates)
    return {truth.key(r): r for r in truth.records(body.content)}


async def mirrored(pipeline: Pipeline, seller: Seller, family: Family) -> Records:
    truth = TRUTHS[family]
    table = truth.table
    async with pipeline.sessions() as session:
        rows = await session.scalars(select(table).where(table.account_id == seller.account_id))
        return {getattr(row, truth.key_column): row.payload for row in rows}


async def learned(pipeline: Pipeline, key: str) -> int | None:
    bucket = await pipeline.broker.key_value(BUCKETS.learned_limits.bucket, declare=False)
    return await KvLimits(bucket).get(key)


@pytest.fixture(params=sorted(POST_ORDER_VARIANTS), ids=lambda v: v or "lenient")
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def pipeline(
    variant: str,
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Pipeline]:
    config = SandboxConfig(
        sellers=1, profile="small", orders_per_day=40, clock_frozen=True, strictness=variant
    )
    async with family_pipeline(
        nats_url=nats_url,
        database_url=migrated_database_url,
        broker=broker,
        sessions=sessions,
        config=config,
    ) as pipeline:
        yield pipeline


async def test_post_order_syncs_either_way_and_learns_refused_limits_once(
    pipeline: Pipeline, variant: str
) -> None:
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=90)
    for family, search in SEARCHES.items():
        await pipeline.sync(seller, family, start, now)
        in_window = await truth_records(pipeline, seller, family, date_from=start, date_to=now)
        everything = await truth_records(pipeline, seller, family)
        mirror = await mirrored(pipeline, seller, family)
        assert len(in_window) >= 3, family
        assert {k: v for k, v in mirror.items() if k in in_window} == in_window
        assert all(everything[key] == payload for key, payload in mirror.items())
        limit, range_minutes = POST_ORDER_VARIANTS[variant]
        assert await learned(pipeline, search.limit_key) == limit
        assert await learned(pipeline, search.range_key) == range_minutes
    if variant == "inquiry-no-lastmodified":
        # Search members carry no history: the creation date is each inquiry's version.
        async with pipeline.sessions() as session:
            mine = EbayInquiry.account_id == seller.account_id
            rows = list(await session.scalars(select(EbayInquiry).where(mine)))
        assert rows and all(row.last_modified_date == row.creation_date for row in rows)
    refused_first = await refused_calls(pipeline)
    assert (refused_first > 0) == (
        variant in ("postorder-max-limit-50", "postorder-max-range-days-30")
    )

    # A later run (a minute's window: empty, so the no-paging variant answers {}) starts from
    # what the first learned: not one refused call, and the mirror still equals eBay.
    for family in SEARCHES:
        await pipeline.sync(seller, family, now - timedelta(minutes=1), now)
        everything = await truth_records(pipeline, seller, family)
        mirror = await mirrored(pipeline, seller, family)
        assert mirror and all(everything[key] == payload for key, payload in mirror.items())
    assert await refused_calls(pipeline) == refused_first


# --- offers: an unknown SKU's "no offer" as 404 (lenient) or 400 (eBay's spec) -------------

ORIGIN = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(params=["", "offers-no-offer-400"], ids=["lenient", "offers-no-offer-400"])
def offers_variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def offers_pipeline(
    offers_variant: str,
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Pipeline]:
    # Seller 1 lists its whole catalogue; 45 days before the origin some SKUs are still drafts.
    config = SandboxConfig(
        sellers=1,
        profile="tiny",
        listings=60,
        clock_frozen=True,
        origin=ORIGIN,
        clock_start=ORIGIN - timedelta(days=45),
        strictness=offers_variant,
    )
    async with family_pipeline(
        nats_url=nats_url,
        database_url=migrated_database_url,
        broker=broker,
        sessions=sessions,
        config=config,
    ) as pipeline:
        yield pipeline


async def test_an_offerless_sku_is_no_offer_as_a_404_or_a_400(
    offers_pipeline: Pipeline, offers_variant: str
) -> None:
    pipeline = offers_pipeline
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=Family.OFFERS,
        window_from=None,
        window_to=now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )
    await (await pipeline.fetcher()).fetch(window)
    expected = await truth_records(pipeline, seller, Family.OFFERS)
    skus = (await pipeline.truth(seller, "inventory_items")).json()["inventoryItems"]
    assert len(skus) > len(expected) > 0  # drafts: SKUs without an offer
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayOffer).where(EbayOffer.account_id == seller.account_id)
        )
        assert {row.offer_id: row.payload for row in rows if row.ended_at is None} == expected
        run = await session.get(SyncRun, window.run_id)
    assert run is not None
    assert (run.status, run.snapshot_complete) == ("succeeded", True)
    # The strict variant answered every draft with a 400, and none of them failed the run.
    drafts = len(skus) - len({offer["sku"] for offer in expected.values()})
    assert await refused_calls(pipeline) == (drafts if offers_variant else 0)
