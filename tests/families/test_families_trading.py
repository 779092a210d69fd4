"""The Trading families through the whole path: sandbox → token service → source → writer.

Messages, active listings (a snapshot) and purchases are mirrored exactly as the sandbox's
ground truth holds them; a complete snapshot after listings ended marks exactly those ended,
an incomplete one ends nothing; Trading faults surface as the right errors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from common.db.events import EbayEvent
from common.db.trading import EbayActiveListing, EbayMessage, EbayPurchase
from common.ebay.errors import (
    EbayAuthError,
    EbayPayloadError,
    EbayQuotaError,
    EbayTransientError,
)
from common.ebay.trading import TradingClient
from common.families import Family
from common.messages import SyncWindow, Trigger
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from fetcher.sources import PageRequest, Source, SourcePage
from fetcher.sources.trading import ActiveInventorySource, MessagesSource, PurchasesSource
from testkit.pipeline import Pipeline, Seller, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


# Two sellers (a US and a UK one: site ids 0 and 3), small volumes, time only moves on demand.
pipeline = pipeline_fixture(
    SandboxConfig(
        sellers=2,
        profile="tiny",
        orders_per_day=1,
        history_days=90,
        listings=30,
        messages_per_day=3,
        purchases_per_day=1,
        clock_frozen=True,
    )
)


def trading(pipeline: Pipeline) -> TradingClient:
    return TradingClient(pipeline.http, pipeline.fetcher_settings.ebay.api_base_url)


async def run(
    pipeline: Pipeline,
    seller: Seller,
    source: Source,
    window_from: datetime | None,
    window_to: datetime,
) -> SyncWindow:
    """One window through ``source`` (small pages, so every family pages several times)."""
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=source.family,
        window_from=window_from,
        window_to=window_to,
        trigger=Trigger.MANUAL,
        issued_at=window_to,
    )
    await (await pipeline.fetcher({source.family: source})).fetch(window)
    return window


async def truth(pipeline: Pipeline, seller: Seller, family: Family, **dates: Any) -> dict[str, Any]:
    spec = TRUTHS[family]
    body = await pipeline.truth(seller, spec.path, **dates)
    return {spec.key(record): record for record in spec.records(body.content)}


async def test_messages_of_a_window_are_mirrored_exactly(pipeline: Pipeline) -> None:
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=20)
    # 25 headers a page: several pages, each with three body calls of at most ten ids.
    source = MessagesSource(trading(pipeline), page_size=25)
    for seller in pipeline.sellers:
        window = await run(pipeline, seller, source, start, now)
        expected = await truth(pipeline, seller, Family.MESSAGES, date_from=start, date_to=now)
        async with pipeline.sessions() as session:
            rows = (
                await session.scalars(
                    select(EbayMessage).where(EbayMessage.account_id == seller.account_id)
                )
            ).all()
        assert len(expected) > 25
        assert {row.message_id: row.payload for row in rows} == expected
        # Full messages (ReturnMessages), not headers.
        assert all("Text" in row.payload for row in rows)
        assert len(pipeline.pages[window.run_id]) > 1


async def test_messages_of_every_folder_are_mirrored_and_their_moves_are_history(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    source = MessagesSource(trading(pipeline), page_size=5)  # several pages in some folders
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=30)
    await run(pipeline, seller, source, start, now)
    # Four days on, messages of the last days get read, replied (a Sent message) and filed.
    await pipeline.advance_clock(4 * 86_400)
    later = await pipeline.sandbox_now()
    second = await run(pipeline, seller, source, now, later)  # its ``recent`` phase re-reads
    expected = await truth(pipeline, seller, Family.MESSAGES, date_from=start, date_to=later)
    async with pipeline.sessions() as session:
        rows = (
            await session.scalars(
                select(EbayMessage).where(EbayMessage.account_id == seller.account_id)
            )
        ).all()
        events = (
            await session.scalars(
                select(EbayEvent).where(
                    EbayEvent.run_id == second.run_id, EbayEvent.change_kind == "changed"
                )
            )
        ).all()
    assert {row.message_id: row.payload for row in rows} == expected
    folders = {row.folder_id for row in rows}
    assert {0, 1} < folders, "Inbox, Sent and custom folders"
    archived = [row for row in rows if row.archived]
    assert archived and all(row.payload["Folder"]["FolderName"] == "Archive" for row in archived)
    for row in rows:
        assert row.flagged == (row.payload["Flagged"] == "true")
        assert row.replied == (row.payload["Replied"] == "true")
        assert row.is_read == (row.payload["Read"] == "true")
    moved = [e for e in events if "Folder" in e.changed_fields]
    assert moved, "a message filed away is a change with its old and new folder"
    for event in moved:
        assert event.changes is not None
        assert (
            event.changes["Folder"]["old"]["FolderID"] != event.changes["Folder"]["new"]["FolderID"]
        )
    assert any("Read" in e.changed_fields for e in events)


async def test_purchases_of_the_last_60_days_are_mirrored_whatever_the_window(
    pipeline: Pipeline,
) -> None:
    now = await pipeline.sandbox_now()
    source = PurchasesSource(trading(pipeline), page_size=10)
    for seller in pipeline.sellers:
        # WonList has no date filter: even a one-hour window reads the whole 60 days.
        await run(pipeline, seller, source, now - timedelta(hours=1), now)
        expected = await truth(pipeline, seller, Family.PURCHASES)
        async with pipeline.sessions() as session:
            rows = (
                await session.scalars(
                    select(EbayPurchase).where(EbayPurchase.account_id == seller.account_id)
                )
            ).all()
        assert len(expected) > 20
        assert {row.order_line_item_id: row.payload for row in rows} == expected
        assert min(r.created_date for r in rows if r.created_date) >= now - timedelta(days=60)


async def listings(pipeline: Pipeline, seller: Seller) -> list[EbayActiveListing]:
    async with pipeline.sessions() as session:
        result = await session.scalars(
            select(EbayActiveListing).where(EbayActiveListing.account_id == seller.account_id)
        )
        return list(result.all())


async def ended_events(pipeline: Pipeline, window: SyncWindow) -> set[str]:
    async with pipeline.sessions() as session:
        result = await session.execute(
            select(EbayEvent.entity_id, EbayEvent.topic).where(
                EbayEvent.run_id == window.run_id, EbayEvent.change_kind == "ended"
            )
        )
        ended = result.all()
    # Every listing that ended is the business event LISTING_ENDED (common.db.topics).
    assert {topic for _, topic in ended} <= {"LISTING_ENDED"}
    return {entity_id for entity_id, _ in ended}


async def test_a_complete_snapshot_ends_exactly_the_listings_that_ended(
    pipeline: Pipeline,
) -> None:
    source = ActiveInventorySource(trading(pipeline), page_size=7)
    first: dict[Seller, dict[str, Any]] = {}
    for seller in pipeline.sellers:
        window = await run(pipeline, seller, source, None, await pipeline.sandbox_now())
        first[seller] = await truth(pipeline, seller, Family.ACTIVE_INVENTORY)
        rows = await listings(pipeline, seller)
        assert len(first[seller]) > 14
        assert {r.item_id: r.payload for r in rows} == first[seller]
        assert all(r.ended_at is None for r in rows)
        assert len(pipeline.pages[window.run_id]) > 2

    await pipeline.advance_clock(timedelta(days=20).total_seconds())

    total_ended = 0
    for seller in pipeline.sellers:
        window = await run(pipeline, seller, source, None, await pipeline.sandbox_now())
        now_live = await truth(pipeline, seller, Family.ACTIVE_INVENTORY)
        gone = set(first[seller]) - set(now_live)
        rows = await listings(pipeline, seller)
        assert {r.item_id: r.payload for r in rows if r.ended_at is None} == now_live
        assert {r.item_id for r in rows if r.ended_at is not None} == gone
        assert await ended_events(pipeline, window) == gone
        total_ended += len(gone)
    assert total_ended > 0


@dataclass(frozen=True)
class CannotReachEverything:
    """The active listings source as it answers for an account beyond the 25,000 ceiling."""

    inner: ActiveInventorySource
    family: Family = Family.ACTIVE_INVENTORY
    phases: tuple[str, ...] = ("snapshot",)

    async def page(self, request: PageRequest) -> SourcePage:
        page = await self.inner.page(request)
        return SourcePage(page.records, replace(page.shape, complete=False))


async def test_an_incomplete_snapshot_ends_nothing(pipeline: Pipeline) -> None:
    seller = pipeline.sellers[0]
    source = ActiveInventorySource(trading(pipeline), page_size=7)
    await run(pipeline, seller, source, None, await pipeline.sandbox_now())
    before = await truth(pipeline, seller, Family.ACTIVE_INVENTORY)

    await pipeline.advance_clock(timedelta(days=20).total_seconds())
    window = await run(
        pipeline, seller, CannotReachEverything(source), None, await pipeline.sandbox_now()
    )
    after = await truth(pipeline, seller, Family.ACTIVE_INVENTORY)
    assert set(before) - set(after), "some listings should have ended meanwhile"
    rows = await listings(pipeline, seller)
    assert all(r.ended_at is None for r in rows)
    assert await ended_events(pipeline, window) == set()
    # What it did see is written: the current listings, new ones included.
    assert {r.item_id: r.payload for r in rows if r.item_id in after} == after


async def test_trading_faults_map_onto_the_error_tree(pipeline: Pipeline) -> None:
    seller = pipeline.sellers[1]
    account = await pipeline.tokens.access_token(seller.account_id)
    client = trading(pipeline)

    async def won_list() -> None:
        await client.won_list(
            account.token, account.site_id, duration_days=60, page_number=1, entries_per_page=5
        )

    await pipeline.fault(seller, "quota_518", family="purchases", count=1)
    with pytest.raises(EbayQuotaError) as quota:
        await won_list()
    assert quota.value.retry_after is not None and 0 < quota.value.retry_after <= 25 * 3600

    for kind, status in (("http_500", 500), ("http_429", 429)):
        await pipeline.fault(seller, kind, family="purchases", count=1)
        with pytest.raises(EbayTransientError) as transient:
            await won_list()
        assert transient.value.status == status and type(transient.value) is EbayTransientError

    await pipeline.fault(seller, "drop_connection", family="purchases", count=1)
    with pytest.raises(EbayTransientError):
        await won_list()

    await pipeline.fault(seller, "malformed_xml", family="purchases", count=1)
    with pytest.raises(EbayPayloadError):
        await won_list()

    await pipeline.fault(seller, "expired_token", family="purchases", count=1)
    with pytest.raises(EbayAuthError, match="21917053"):
        await won_list()
    # The fault expired that token for good: a refreshed one works again.
    account = await pipeline.tokens.access_token(seller.account_id, force_refresh=True)
    await won_list()


async def test_an_expired_token_mid_run_is_refreshed_and_the_run_completes(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    await pipeline.fault(seller, "expired_token", family="messages", count=1)
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=10)
    await run(pipeline, seller, MessagesSource(trading(pipeline)), start, now)
    expected = await truth(pipeline, seller, Family.MESSAGES, date_from=start, date_to=now)
    async with pipeline.sessions() as session:
        rows = (
            await session.scalars(
                select(EbayMessage).where(EbayMessage.account_id == seller.account_id)
            )
        ).all()
    assert expected and {row.message_id: row.payload for row in rows} == expected
