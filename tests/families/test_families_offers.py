"""Offers through the whole family path: each snapshot leaves the mirror equal to the sandbox.

The sandbox's sellers 1 to 3 list 100 %, 50 % and 0 % of their catalogue through the Inventory
API. Its clock starts before the catalogue is complete, so SKUs keep appearing as it advances
(which is what makes a snapshot's total move), and offers change as listings sell, end and are
relisted. The sandbox never deletes an offer, so the offer a snapshot must end is planted in the
mirror as one eBay has since deleted.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from common.db.events import EbayEvent
from common.db.offers import EbayOffer
from common.db.sync import SyncRun
from common.ebay.errors import EbayRequestError, EbayTransientError
from common.ebay.inventory import INVENTORY_ITEMS_PATH, OFFERS_PATH, InventoryClient
from common.families import Family
from common.messages import SyncWindow, Trigger
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from fetcher.settings import FetcherSettings
from fetcher.sources import SourceContext, build_sources
from testkit.pipeline import Pipeline, Seller, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

ORIGIN = datetime(2026, 6, 1, tzinfo=UTC)
# Tiny sellers' slots first list between 90 and 30 days before the origin: 45 days before it,
# most SKUs exist and more appear every day.
CLOCK_START = ORIGIN - timedelta(days=45)
PAGE_SIZE = 6
CONCURRENCY = 3
GONE = "999000111"  # the planted offer eBay no longer has


class ObservedTransport(httpx.AsyncBaseTransport):
    """Real HTTP that counts requests in flight per path (until their body is read) and can
    act on the sandbox just before a request leaves."""

    def __init__(self, before: Callable[[httpx.Request], Awaitable[None]] | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._before = before
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.item_offsets: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.sent[path] += 1
        if path == INVENTORY_ITEMS_PATH:
            self.item_offsets.append(int(request.url.params["offset"]))
        if self._before is not None:
            await self._before(request)
        self.in_flight[path] += 1
        self.peak[path] = max(self.peak[path], self.in_flight[path])
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight[path] -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


pipeline = pipeline_fixture(
    SandboxConfig(
        sellers=3,
        profile="tiny",
        listings=60,
        clock_frozen=True,
        origin=ORIGIN,
        clock_start=CLOCK_START,
    ),
    fetcher_settings=FetcherSettings(offers_page_size=PAGE_SIZE, offers_concurrency=CONCURRENCY),
)


async def fetch(pipeline: Pipeline, window: SyncWindow, transport: ObservedTransport) -> None:
    """Fetch and write ``window`` with the real sources on an observed HTTP client."""
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        sources = build_sources(SourceContext(http, pipeline.fetcher_settings, pipeline.tokens))
        await (await pipeline.fetcher(sources)).fetch(window)


async def snapshot_window(pipeline: Pipeline, seller: Seller) -> SyncWindow:
    now = await pipeline.sandbox_now()
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=Family.OFFERS,
        window_from=None,
        window_to=now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )


async def truth(pipeline: Pipeline, seller: Seller) -> dict[str, dict[str, Any]]:
    family = TRUTHS[Family.OFFERS]
    body = await pipeline.truth(seller, family.path)
    return {family.key(record): record for record in family.records(body.content)}


async def truth_skus(pipeline: Pipeline, seller: Seller) -> list[str]:
    body = (await pipeline.truth(seller, "inventory_items")).json()
    return [item["sku"] for item in body["inventoryItems"]]


async def mirrored(pipeline: Pipeline, seller: Seller) -> dict[str, EbayOffer]:
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayOffer).where(EbayOffer.account_id == seller.account_id)
        )
        return {row.offer_id: row for row in rows}


async def live_payloads(pipeline: Pipeline, seller: Seller) -> dict[str, dict[str, Any]]:
    rows = await mirrored(pipeline, seller)
    return {key: row.payload for key, row in rows.items() if row.ended_at is None}


async def events(pipeline: Pipeline, seller: Seller) -> list[EbayEvent]:
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayEvent).where(
                EbayEvent.account_id == seller.account_id, EbayEvent.family == Family.OFFERS
            )
        )
        return list(rows)


async def run_of(pipeline: Pipeline, window: SyncWindow) -> SyncRun:
    async with pipeline.sessions() as session:
        run = await session.get(SyncRun, window.run_id)
        assert run is not None
        return run


async def plant_deleted_offer(pipeline: Pipeline, seller: Seller) -> None:
    """An offer the mirror holds that eBay has since deleted."""
    now = datetime.now(UTC)
    async with pipeline.sessions.begin() as session:
        session.add(
            EbayOffer(
                account_id=seller.account_id,
                offer_id=GONE,
                sku="SKU-001-DELETED",
                payload={"offerId": GONE, "sku": "SKU-001-DELETED", "status": "PUBLISHED"},
                first_seen_at=now,
                updated_at=now,
                last_run_id=uuid.uuid4(),
            )
        )


async def clear_faults(pipeline: Pipeline, seller: Seller) -> None:
    response = await pipeline.http.delete(
        f"{pipeline.sandbox_url}/sandbox/faults", params={"username": seller.username}
    )
    response.raise_for_status()


async def test_every_sellers_offers_are_mirrored_exactly(pipeline: Pipeline) -> None:
    sizes = []
    for seller in pipeline.sellers:
        window = await snapshot_window(pipeline, seller)
        await fetch(pipeline, window, ObservedTransport())
        expected = await truth(pipeline, seller)
        assert await live_payloads(pipeline, seller) == expected
        run = await run_of(pipeline, window)
        assert (run.status, run.snapshot_complete) == ("succeeded", True)
        skus = await truth_skus(pipeline, seller)
        assert {offer["sku"] for offer in expected.values()} <= set(skus)
        sizes.append((len(skus), len(expected)))
    # Shares 100 %, 50 %, 0 %: several pages for seller 1, nothing at all for seller 3. Seller
    # 1 has drafts by now: items without offers (getOffers answers 404 25713), so no record.
    (skus_1, offers_1), (_, offers_2), (skus_3, offers_3) = sizes
    assert offers_1 > 3 * PAGE_SIZE and skus_1 > offers_1
    assert 0 < offers_2 < offers_1
    assert skus_3 == offers_3 == 0


async def test_offer_calls_never_exceed_the_concurrency_bound(pipeline: Pipeline) -> None:
    seller = pipeline.sellers[0]
    transport = ObservedTransport()
    await fetch(pipeline, await snapshot_window(pipeline, seller), transport)
    skus = await truth_skus(pipeline, seller)
    assert transport.sent[OFFERS_PATH] == len(skus)
    # Each page's SKUs (more than the bound) are asked for concurrently, never beyond it.
    assert PAGE_SIZE > CONCURRENCY
    assert transport.peak[OFFERS_PATH] == CONCURRENCY


async def test_a_sku_call_that_fails_once_is_retried_with_its_page(pipeline: Pipeline) -> None:
    seller = pipeline.sellers[0]
    failed: list[bool] = []

    async def fail_one_sku_call(request: httpx.Request) -> None:
        if request.url.path == OFFERS_PATH and not failed:
            failed.append(True)
            await pipeline.fault(seller, "http_500", family="offers")

    transport = ObservedTransport(fail_one_sku_call)
    window = await snapshot_window(pipeline, seller)
    await fetch(pipeline, window, transport)
    # The first page was asked for twice; nothing it held is missing from the snapshot.
    assert transport.item_offsets[:2] == [0, 0]
    assert await live_payloads(pipeline, seller) == await truth(pipeline, seller)
    assert (await run_of(pipeline, window)).snapshot_complete is True


async def test_the_client_reads_an_offerless_sku_as_empty_and_refuses_a_bad_one(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    token = (await pipeline.tokens.access_token(seller.account_id)).token
    client = InventoryClient(pipeline.http, pipeline.sandbox_url)
    offered = {offer["sku"] for offer in (await truth(pipeline, seller)).values()}
    draft = next(sku for sku in await truth_skus(pipeline, seller) if sku not in offered)
    assert await client.get_offers(token, sku=draft) == []
    assert [o["sku"] for o in await client.get_offers(token, sku=min(offered))] == [min(offered)]
    with pytest.raises(EbayRequestError):
        await client.get_offers(token, sku="not a sku!")
    await pipeline.fault(seller, "http_500", family="offers")
    with pytest.raises(EbayTransientError):
        await client.get_offers(token, sku=min(offered))


async def test_snapshots_follow_changes_and_only_a_complete_one_ends_what_vanished(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    await fetch(pipeline, await snapshot_window(pipeline, seller), ObservedTransport())
    first = await truth(pipeline, seller)
    assert await live_payloads(pipeline, seller) == first
    await plant_deleted_offer(pipeline, seller)

    # A snapshot whose catalogue grows while it pages is incomplete: it ends nothing.
    grown: list[bool] = []

    async def grow_before_second_page(request: httpx.Request) -> None:
        if is_second_items_page(request) and not grown:
            grown.append(True)
            await pipeline.advance_clock(timedelta(days=5).total_seconds())

    moving = ObservedTransport(grow_before_second_page)
    incomplete = await snapshot_window(pipeline, seller)
    await fetch(pipeline, incomplete, moving)
    run = await run_of(pipeline, incomplete)
    assert (run.status, run.snapshot_complete) == ("succeeded", False)
    assert len(await truth(pipeline, seller)) > len(first)  # the catalogue did grow
    assert (await mirrored(pipeline, seller))[GONE].ended_at is None
    assert not [e for e in await events(pipeline, seller) if e.change_kind == "ended"]

    # Weeks later offers have sold, ended and been relisted, and more SKUs exist.
    await pipeline.advance_clock(timedelta(days=10).total_seconds())
    latest = await truth(pipeline, seller)
    changed = {k for k in first if k in latest and latest[k] != first[k]}
    assert changed

    # From the second page on, SKU calls keep failing: the run stops there and ends nothing ...
    failed: list[bool] = []

    async def fail_from_the_second_page(request: httpx.Request) -> None:
        on_second_page = failing.item_offsets and failing.item_offsets[-1] == PAGE_SIZE
        if request.url.path == OFFERS_PATH and on_second_page and not failed:
            failed.append(True)
            await pipeline.fault(seller, "http_500", family="offers", count=1000)

    failing = ObservedTransport(fail_from_the_second_page)
    window = await snapshot_window(pipeline, seller)
    with pytest.raises(EbayTransientError):
        await fetch(pipeline, window, failing)
    await clear_faults(pipeline, seller)
    assert (await mirrored(pipeline, seller))[GONE].ended_at is None
    assert not [e for e in await events(pipeline, seller) if e.change_kind == "ended"]
    assert (await run_of(pipeline, window)).status != "succeeded"

    # ... and its redelivery resumes after the last written page and completes the snapshot.
    resumed = ObservedTransport()
    await fetch(pipeline, window, resumed)
    assert failed and resumed.item_offsets[0] == PAGE_SIZE
    run = await run_of(pipeline, window)
    assert (run.status, run.snapshot_complete) == ("succeeded", True)
    assert await live_payloads(pipeline, seller) == latest
    rows = await mirrored(pipeline, seller)
    assert rows[GONE].ended_at is not None
    assert set(rows) == {*latest, GONE}
    history = await events(pipeline, seller)
    assert [(e.entity_id, e.run_id) for e in history if e.change_kind == "ended"] == [
        (GONE, window.run_id)
    ]
    changed_events = {e.entity_id for e in history if e.change_kind == "changed"}
    assert changed <= changed_events
    created = {e.entity_id for e in history if e.change_kind == "created"}
    assert set(latest) <= created


def is_second_items_page(request: httpx.Request) -> bool:
    # getInventoryItems' next link continues at offset + limit.
    offset = request.url.params.get("offset")
    return request.url.path == INVENTORY_ITEMS_PATH and offset == str(PAGE_SIZE)
