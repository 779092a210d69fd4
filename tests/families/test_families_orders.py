"""Orders through the whole family path: the mirror holds exactly the sandbox's orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.db.orders import EbayOrder
from common.families import Family
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from testkit.pipeline import Pipeline, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


pipeline = pipeline_fixture(
    SandboxConfig(sellers=1, profile="tiny", orders_per_day=5, clock_frozen=True)
)


async def test_a_window_of_orders_is_mirrored_exactly(pipeline: Pipeline) -> None:
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    start = now - timedelta(days=20)
    await pipeline.sync(seller, Family.ORDERS, start, now)
    truth = TRUTHS[Family.ORDERS]
    body = await pipeline.truth(seller, truth.path, date_from=start, date_to=now)
    expected = {truth.key(r): r for r in truth.records(body.content)}
    async with pipeline.sessions() as session:
        rows = list(
            await session.scalars(
                select(EbayOrder).where(EbayOrder.account_id == seller.account_id)
            )
        )
        mirrored = {row.order_id: row.payload for row in rows}
        totals = {row.order_id: row.total_value for row in rows}
    assert len(expected) > 10
    assert mirrored == expected
    # getOrders was asked for TAX_BREAKDOWN: eBay's 'Collect and Remit' tax is in the total.
    taxed = [o for o in mirrored.values() if "tax" in o["pricingSummary"]]
    assert taxed
    for order in taxed:
        lines = sum(Decimal(line["total"]["value"]) for line in order["lineItems"])
        assert totals[order["orderId"]] == lines + Decimal(order["pricingSummary"]["tax"]["value"])
