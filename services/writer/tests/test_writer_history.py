"""History with values and business-event topics, on a real PostgreSQL (issue 15, items 6 and 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.events import EbayEvent
from common.db.topics import ENDED_TOPICS, TOPIC_RULES, Topic, topic_expression
from common.families import Family
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from testkit.pages import WINDOW_FROM as T0
from testkit.pages import single_page
from writer.service import PageWriter

pytestmark = pytest.mark.postgres


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> PageWriter:
    return PageWriter(sessions, lambda: datetime.now(UTC))


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


async def events(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[EbayEvent]:
    async with sessions() as session:
        result = await session.scalars(
            select(EbayEvent).where(EbayEvent.account_id == account_id).order_by(EbayEvent.id)
        )
        return list(result.all())


def order(order_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return make_order(order_id, modified=T0 + timedelta(minutes=minutes), created=T0, **fields)


async def test_a_change_keeps_the_old_and_the_new_value_of_each_changed_field(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    before = order("P-1", 0, pricingSummary={"total": {"value": "10.00", "currency": "USD"}})
    after = order("P-1", 5, pricingSummary={"total": {"value": "12.50", "currency": "USD"}})
    await writer.write(single_page(account_id, [before]), None)
    await writer.write(single_page(account_id, [after]), None)
    created, changed = await events(sessions, account_id)
    assert created.change_kind == "created" and created.changes is None
    assert changed.change_kind == "changed"
    assert changed.changed_fields == ["lastModifiedDate", "pricingSummary"]
    assert changed.changes == {
        "lastModifiedDate": {"old": before["lastModifiedDate"], "new": after["lastModifiedDate"]},
        "pricingSummary": {
            "old": {"total": {"value": "10.00", "currency": "USD"}},
            "new": {"total": {"value": "12.50", "currency": "USD"}},
        },
    }


async def test_a_field_that_appears_or_disappears_has_null_on_the_other_side(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    with_note = order("P-2", 0, buyerCheckoutNotes="leave at the door")
    without = order("P-2", 5)
    await writer.write(single_page(account_id, [with_note]), None)
    await writer.write(single_page(account_id, [without]), None)
    changed = (await events(sessions, account_id))[-1]
    assert changed.changes is not None
    assert changed.changes["buyerCheckoutNotes"] == {"old": "leave at the door", "new": None}


async def test_an_order_raises_ready_to_ship_once_when_it_becomes_paid_and_unshipped(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    unpaid = order("R-1", 0, orderPaymentStatus="PENDING")
    paid = order("R-1", 5)  # PAID, NOT_STARTED
    paid_with_note = order("R-1", 9, buyerCheckoutNotes="gift wrap please")
    shipped = order("R-1", 20, orderFulfillmentStatus="FULFILLED")
    for raw in (unpaid, paid, paid, paid_with_note, shipped):
        await writer.write(single_page(account_id, [raw]), None)
    history = await events(sessions, account_id)
    assert [(e.change_kind, e.topic) for e in history] == [
        ("created", None),
        ("changed", "ORDER_READY_TO_SHIP"),  # the redelivered copy of this page changed nothing
        ("changed", None),  # still ready: staying in the state raises nothing
        ("changed", None),
    ]


async def test_an_order_created_ready_to_ship_raises_it_on_creation(
    writer: PageWriter, sessions: async_sessionmaker[AsyncSession], account_id: int
) -> None:
    await writer.write(single_page(account_id, [order("R-2", 0)]), None)
    (created,) = await events(sessions, account_id)
    assert (created.change_kind, created.topic) == ("created", "ORDER_READY_TO_SHIP")


# Each rule: a change that enters its state (fires), and ones that do not.
ENTERING: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "ORDER_READY_TO_SHIP": (
        {"orderPaymentStatus": "PAID", "orderFulfillmentStatus": "NOT_STARTED"},
        {"orderPaymentStatus": "PENDING", "orderFulfillmentStatus": "NOT_STARTED"},
    ),
    "RETURN_OPENED": ({"state": "RETURN_REQUESTED"}, None),
    "CASE_OPENED": ({"caseStatusEnum": "OPEN"}, None),
    "PAYMENT_DISPUTE_OPENED": ({"paymentDisputeStatus": "OPEN"}, None),
}
NOT_ENTERING: dict[str, list[tuple[dict[str, Any], dict[str, Any] | None]]] = {
    "ORDER_READY_TO_SHIP": [
        ({"orderPaymentStatus": "PENDING", "orderFulfillmentStatus": "NOT_STARTED"}, None),
        (
            {"orderPaymentStatus": "PAID", "orderFulfillmentStatus": "NOT_STARTED"},
            {"orderPaymentStatus": "PAID", "orderFulfillmentStatus": "NOT_STARTED"},
        ),
        ({"orderPaymentStatus": "PAID", "orderFulfillmentStatus": "FULFILLED"}, None),
    ],
    "RETURN_OPENED": [({"state": "CLOSED"}, None), ({"state": "ITEM_SHIPPED"}, {"state": "x"})],
    "CASE_OPENED": [({"caseStatusEnum": "CLOSED"}, None), ({"caseStatusEnum": "OPEN"}, {})],
    "PAYMENT_DISPUTE_OPENED": [
        ({"paymentDisputeStatus": "CLOSED"}, None),
        ({"paymentDisputeStatus": "OPEN"}, {"paymentDisputeStatus": "ACTION_NEEDED"}),
    ],
}
FAMILY_OF: dict[str, Family] = {
    rule.topic: family for family, rules in TOPIC_RULES.items() for rule in rules
}


def test_every_topic_rule_is_covered_here() -> None:
    assert set(ENTERING) == set(NOT_ENTERING) == set(FAMILY_OF)
    assert set(Topic) == set(FAMILY_OF) | set(ENDED_TOPICS.values())


@pytest.mark.parametrize("topic", sorted(ENTERING))
async def test_each_rule_fires_on_entering_its_state_only(
    sessions: async_sessionmaker[AsyncSession], topic: str
) -> None:
    expression = topic_expression(
        FAMILY_OF[topic], new="CAST(:new AS jsonb)", old="CAST(:old AS jsonb)"
    )

    async def evaluate(new: dict[str, Any], old: dict[str, Any] | None) -> str | None:
        async with sessions() as session:
            params = {"new": json.dumps(new), "old": None if old is None else json.dumps(old)}
            value = await session.scalar(text(f"SELECT {expression}"), params)
            return None if value is None else str(value)

    assert await evaluate(*ENTERING[topic]) == topic
    for new, old in NOT_ENTERING[topic]:
        assert await evaluate(new, old) is None, (new, old)
