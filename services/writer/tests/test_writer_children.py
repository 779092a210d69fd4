"""Child rows on a real PostgreSQL: a transaction's fees and an order's line items are the set
its record holds now, written in the page's transaction (issue 15, items 2 and 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.finances import EbayTransactionFee
from common.db.orders import EbayOrderLineItem
from common.families import Family
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from testkit.pages import WINDOW_FROM as T0
from testkit.pages import single_page
from writer.domain import MalformedRecordError
from writer.mappings.finances import map_transaction
from writer.service import PageWriter

pytestmark = pytest.mark.postgres


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> PageWriter:
    return PageWriter(sessions, lambda: datetime.now(UTC))


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


def fee(fee_type: str, value: str) -> dict[str, Any]:
    return {"feeType": fee_type, "amount": {"value": value, "currency": "USD"}}


def sale(lines: dict[str, list[dict[str, Any]]], transaction_id: str = "T-1") -> dict[str, Any]:
    return {
        "transactionId": transaction_id,
        "transactionType": "SALE",
        "transactionStatus": "PAYOUT",
        "transactionDate": "2026-11-01T10:00:00.000Z",
        "orderId": "O-1",
        "amount": {"value": "90.00", "currency": "USD"},
        "totalFeeAmount": {"value": "10.00", "currency": "USD"},
        "orderLineItems": [
            {"lineItemId": line, "marketplaceFees": fees} for line, fees in lines.items()
        ],
    }


async def fees(sessions: async_sessionmaker[AsyncSession], account_id: int) -> dict[Any, Any]:
    async with sessions() as session:
        rows = await session.scalars(
            select(EbayTransactionFee).where(EbayTransactionFee.account_id == account_id)
        )
        return {(r.transaction_id, r.line_item_id, r.fee_type): r.amount_value for r in rows}


async def test_fees_are_written_with_their_transaction_and_follow_it(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    first = sale({"L1": [fee("FINAL_VALUE_FEE", "8.70"), fee("FIXED", "0.30")], "L2": []})
    await writer.write(single_page(account_id, [first], Family.TRANSACTIONS), None)
    assert await fees(sessions, account_id) == {
        ("T-1", "L1", "FINAL_VALUE_FEE"): Decimal("8.70"),
        ("T-1", "L1", "FIXED"): Decimal("0.30"),
    }
    # The same page again, and again in a new run: nothing doubles.
    for _ in range(2):
        await writer.write(single_page(account_id, [first], Family.TRANSACTIONS), None)
    assert len(await fees(sessions, account_id)) == 2
    # A fee that disappears is removed; one that changes is updated; a new one is added.
    later = sale({"L1": [fee("FINAL_VALUE_FEE", "9.10")], "L2": [fee("FINAL_VALUE_FEE", "1.00")]})
    await writer.write(single_page(account_id, [later], Family.TRANSACTIONS), None)
    assert await fees(sessions, account_id) == {
        ("T-1", "L1", "FINAL_VALUE_FEE"): Decimal("9.10"),
        ("T-1", "L2", "FINAL_VALUE_FEE"): Decimal("1.00"),
    }
    # A transaction that lists no line items any more keeps none; others are untouched.
    other = sale({"X": [fee("FINAL_VALUE_FEE", "2.00")]}, transaction_id="T-2")
    bare = sale({}) | {"orderLineItems": []}
    await writer.write(single_page(account_id, [bare, other], Family.TRANSACTIONS), None)
    assert await fees(sessions, account_id) == {("T-2", "X", "FINAL_VALUE_FEE"): Decimal("2.00")}


async def test_the_same_fee_type_twice_on_a_line_item_is_one_row_summed(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    twice = sale({"L1": [fee("REGULATORY_OPERATING_FEE", "0.20")] * 2})
    await writer.write(single_page(account_id, [twice], Family.TRANSACTIONS), None)
    assert await fees(sessions, account_id) == {
        ("T-1", "L1", "REGULATORY_OPERATING_FEE"): Decimal("0.40")
    }


def test_a_fee_without_its_type_is_malformed() -> None:
    with pytest.raises(MalformedRecordError, match="feeType"):
        map_transaction(1, sale({"L1": [{"amount": {"value": "1", "currency": "USD"}}]}))


async def line_items(sessions: async_sessionmaker[AsyncSession], account_id: int) -> set[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(EbayOrderLineItem.line_item_id).where(EbayOrderLineItem.account_id == account_id)
        )
        return set(rows)


async def test_a_line_item_that_leaves_an_order_is_removed_but_never_by_an_older_page(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    three = make_order("O-1", modified=T0, line_items=3)
    two = make_order("O-1", modified=T0 + timedelta(hours=1), line_items=2)
    await writer.write(single_page(account_id, [three], Family.ORDERS), None)
    assert await line_items(sessions, account_id) == {"O-1-L0", "O-1-L1", "O-1-L2"}
    await writer.write(single_page(account_id, [two], Family.ORDERS), None)
    assert await line_items(sessions, account_id) == {"O-1-L0", "O-1-L1"}
    # A late redelivery of the older version changes nothing.
    one_older = make_order("O-1", modified=T0 - timedelta(hours=1), line_items=1)
    await writer.write(single_page(account_id, [one_older], Family.ORDERS), None)
    await writer.write(single_page(account_id, [three], Family.ORDERS), None)
    assert await line_items(sessions, account_id) == {"O-1-L0", "O-1-L1"}
