"""Cases, inquiries, returns and payment disputes through the whole family path.

The mirror holds exactly the sandbox's entities after a 90-day sync; and after the clock moves
on, a run whose window no longer covers an entity's creation still brings its changes (its
closure included) through the refresh phases, with a ``changed`` event for each.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from common.db.events import EbayEvent
from common.db.postorder import EbayClaimDetail
from common.ebay.disputes import PaymentDisputesClient
from common.ebay.postorder import INQUIRY_SEARCH, RETURN_SEARCH, PostOrderClient
from common.families import Family
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS, FamilyTruth
from testkit.pipeline import Pipeline, Seller, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

FAMILIES = (Family.CASES, Family.INQUIRIES, Family.RETURNS, Family.PAYMENT_DISPUTES)
Records = dict[str, dict[str, Any]]


# ~0.4 % of orders get a payment dispute: 40 orders a day give each seller a few dozen.
pipeline = pipeline_fixture(
    SandboxConfig(sellers=2, profile="small", orders_per_day=40, clock_frozen=True)
)


async def truth_records(
    pipeline: Pipeline, seller: Seller, truth: FamilyTruth, **dates: Any
) -> Records:
    body = await pipeline.truth(seller, truth.path, **dates)
    return {truth.key(r): r for r in truth.records(body.content)}


async def mirrored(pipeline: Pipeline, seller: Seller, truth: FamilyTruth) -> Records:
    table = truth.table
    async with pipeline.sessions() as session:
        rows = await session.scalars(select(table).where(table.account_id == seller.account_id))
        return {getattr(row, truth.key_column): row.payload for row in rows}


async def changed_in_run(
    pipeline: Pipeline, seller: Seller, family: Family, run_id: UUID
) -> set[str]:
    async with pipeline.sessions() as session:
        ids = await session.scalars(
            select(EbayEvent.entity_id).where(
                EbayEvent.account_id == seller.account_id,
                EbayEvent.family == str(family),
                EbayEvent.run_id == run_id,
                EbayEvent.change_kind == "changed",
            )
        )
        return set(ids)


def status_of(family: Family, record: dict[str, Any]) -> str:
    field = {
        Family.CASES: "caseStatusEnum",
        Family.INQUIRIES: "inquiryStatusEnum",
        Family.RETURNS: "state",
        Family.PAYMENT_DISPUTES: "paymentDisputeStatus",
    }[family]
    return str(record[field])


def created(truth: FamilyTruth, record: dict[str, Any]) -> datetime:
    assert truth.date is not None
    moment = truth.date(record)
    assert moment is not None
    return moment


async def test_open_entities_are_refreshed_after_their_window(pipeline: Pipeline) -> None:
    first_now = await pipeline.sandbox_now()
    start = first_now - timedelta(days=90)
    before: dict[tuple[Family, str], Records] = {}
    for seller in pipeline.sellers:
        for family in FAMILIES:
            truth = TRUTHS[family]
            await pipeline.sync(seller, family, start, first_now)
            in_window = await truth_records(
                pipeline, seller, truth, date_from=start, date_to=first_now
            )
            everything = await truth_records(pipeline, seller, truth)
            mirror = await mirrored(pipeline, seller, truth)
            # The window's entities, exactly; everything else mirrored is current too.
            assert {k: v for k, v in mirror.items() if k in in_window} == in_window
            assert all(everything[key] == payload for key, payload in mirror.items())
            before[family, seller.username] = mirror

    for family in FAMILIES:
        counts = [len(before[family, s.username]) for s in pipeline.sellers]
        assert all(count >= 3 for count in counts), (family, counts)

    await pipeline.advance_clock(20 * 86_400)
    now = await pipeline.sandbox_now()
    window_from = now - timedelta(days=1)
    closed_since: dict[Family, int] = dict.fromkeys(FAMILIES, 0)
    for seller in pipeline.sellers:
        for family in FAMILIES:
            truth = TRUTHS[family]
            run = await pipeline.sync(seller, family, window_from, now)
            everything = await truth_records(pipeline, seller, truth)
            mirror = await mirrored(pipeline, seller, truth)
            assert mirror == {key: everything[key] for key in mirror}
            since_start = await truth_records(pipeline, seller, truth, date_from=start, date_to=now)
            assert since_start.keys() <= mirror.keys()

            old = before[family, seller.username]
            # Changed, yet created before this run's window: only the refresh phases saw them.
            refreshed = {
                key
                for key, payload in old.items()
                if everything[key] != payload and created(truth, payload) < window_from
            }
            assert refreshed <= await changed_in_run(pipeline, seller, family, run.run_id)
            closed_since[family] += sum(
                1
                for key in refreshed
                if status_of(family, old[key]) != "CLOSED"
                and status_of(family, everything[key]).startswith("CLOSED")
            )
    assert all(count > 0 for count in closed_since.values()), closed_since


DETAILS = {
    Family.INQUIRIES: ("GET getInquiry", INQUIRY_SEARCH),
    Family.RETURNS: ("GET getReturn", RETURN_SEARCH),
    Family.PAYMENT_DISPUTES: ("GET getPaymentDispute", None),
}


async def calls_to(pipeline: Pipeline, endpoint: str) -> int:
    stats = (await pipeline.http.get(f"{pipeline.sandbox_url}/sandbox/stats")).json()
    return int(stats["endpoints"].get(endpoint, 0))


async def stored_details(pipeline: Pipeline, seller: Seller, family: Family) -> Records:
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayClaimDetail).where(
                EbayClaimDetail.account_id == seller.account_id,
                EbayClaimDetail.family == str(family),
            )
        )
        return {row.entity_id: row.detail for row in rows}


async def ebay_detail(pipeline: Pipeline, seller: Seller, family: Family, entity_id: str) -> Any:
    account = await pipeline.tokens.access_token(seller.account_id)
    api = pipeline.fetcher_settings.ebay
    search = DETAILS[family][1]
    if search is None:
        client = PaymentDisputesClient(pipeline.http, api.apiz_base_url)
        return await client.get_dispute(account.token, entity_id)
    post_order = PostOrderClient(pipeline.http, api.api_base_url)
    return await post_order.detail(
        search, account.token, marketplace_id=account.marketplace_id, entity_id=entity_id
    )


async def test_changed_claims_are_read_in_detail_and_unchanged_ones_cost_no_call(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=90)
    for family, (endpoint, _) in DETAILS.items():
        truth = TRUTHS[family]
        before = await calls_to(pipeline, endpoint)
        await pipeline.sync(seller, family, start, now)
        mirror = await mirrored(pipeline, seller, truth)
        details = await stored_details(pipeline, seller, family)
        # Every entity read once in detail, though several phases listed it.
        assert await calls_to(pipeline, endpoint) - before == len(mirror) >= 3, family
        assert details.keys() == mirror.keys()
        for entity_id in list(details)[:3]:
            assert details[entity_id] == await ebay_detail(pipeline, seller, family, entity_id)
        # Nothing changed: the same window again reads no detail at all.
        before = await calls_to(pipeline, endpoint)
        await pipeline.sync(seller, family, start, now)
        assert await calls_to(pipeline, endpoint) == before, family

    await pipeline.advance_clock(20 * 86_400)
    later = await pipeline.sandbox_now()
    changed_somewhere = 0
    for family, (endpoint, _) in DETAILS.items():
        truth = TRUTHS[family]
        old = await mirrored(pipeline, seller, truth)
        before = await calls_to(pipeline, endpoint)
        await pipeline.sync(seller, family, later - timedelta(days=1), later)
        new = await mirrored(pipeline, seller, truth)
        changed = {k for k, v in new.items() if old.get(k) != v}
        # Exactly the entities whose summary changed (or that are new) were read in detail.
        assert await calls_to(pipeline, endpoint) - before == len(changed), family
        details = await stored_details(pipeline, seller, family)
        for entity_id in changed:
            assert details[entity_id] == await ebay_detail(pipeline, seller, family, entity_id)
        changed_somewhere += len(changed)
    assert changed_somewhere > 0
