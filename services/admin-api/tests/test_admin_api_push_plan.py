"""The subscriptions job's pure decisions (admin_api.push_plan) and the connect's push scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from admin_api.push_plan import (
    ENABLED,
    FAILED,
    REST,
    TRADING,
    UNAVAILABLE,
    Kept,
    Step,
    account_topics,
    application_topics,
    missing_events,
    next_step,
    seller_current,
    unavailable_families,
)
from common.ebay.scopes import SCOPE_STRING, scopes_for
from common.families import Purpose
from common.push import PUSH_SCOPES, SUBSCRIPTION_SCOPE, TRADING_EVENTS, TRADING_TOPIC

FULL = " ".join([*SCOPE_STRING.split(), *PUSH_SCOPES])


@pytest.mark.parametrize(
    ("wanted", "ebay_id", "remote", "step"),
    [
        (True, None, None, Step.CREATE),
        (True, "s1", None, Step.RECREATE),
        (True, "s1", "DISABLED", Step.ENABLE),
        (True, "s1", "ENABLED", Step.KEEP),
        (False, "s1", "ENABLED", Step.DELETE),
        (False, None, None, Step.NOTHING),
    ],
)
def test_what_to_do_with_each_subscription(
    wanted: bool, ebay_id: str | None, remote: str | None, step: Step
) -> None:
    assert next_step(wanted, ebay_id, remote) is step


def test_a_full_consent_subscribes_every_user_topic_and_the_trading_events() -> None:
    topics = account_topics(FULL)
    assert all(t.unavailable is None for t in topics)
    assert [t.topic for t in topics if t.api == TRADING] == [TRADING_TOPIC]
    names = {t.topic for t in topics}
    assert not names & {t.topic for t in application_topics()}
    assert {t.topic for t in application_topics()} == {
        "MARKETPLACE_ACCOUNT_DELETION",
        "AUTHORIZATION_REVOCATION",
    }


def test_a_missing_scope_makes_its_topics_unavailable_with_the_reason() -> None:
    no_returns = " ".join(s for s in FULL.split() if "sell.return" not in s)
    unavailable = {t.topic: t.unavailable for t in account_topics(no_returns) if t.unavailable}
    assert unavailable == {"ORDER_RETURN_ACTIVITY": "push unavailable for returns: reconnect"}
    # Without the subscription scope no REST topic can be subscribed; Trading still can.
    none = " ".join(s for s in FULL.split() if s != SUBSCRIPTION_SCOPE)
    topics = account_topics(none)
    assert all(t.unavailable for t in topics if t.api != TRADING)
    assert [t.unavailable for t in topics if t.api == TRADING] == [None]
    rows = [(UNAVAILABLE, t.unavailable) for t in topics if t.unavailable]
    assert "push unavailable for orders: reconnect" in unavailable_families(rows)
    assert len(unavailable_families(rows)) == len(set(unavailable_families(rows)))


def test_trading_events_missing_are_named() -> None:
    every = dict.fromkeys(TRADING_EVENTS, "Enable")
    assert missing_events(every) == []
    assert missing_events({**every, "ItemSold": "Disable"}) == ["ItemSold"]


def test_the_connect_asks_for_the_push_scopes_only_while_push_is_on() -> None:
    assert scopes_for(Purpose.SELLER) == SCOPE_STRING
    with_push = scopes_for(Purpose.SELLER, push=True).split()
    assert set(PUSH_SCOPES) <= set(with_push) and set(SCOPE_STRING.split()) <= set(with_push)
    assert len(with_push) == len(set(with_push))
    assert "commerce.notification" not in scopes_for(Purpose.BUYER, push=True)


NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def confirmed(granted: str, ago: timedelta = timedelta(hours=1)) -> dict[tuple[str, str], Kept]:
    """What the job keeps of a seller it checked ``ago``: every topic as the consent wants it."""
    return {
        (w.api, w.topic): Kept(
            UNAVAILABLE if w.unavailable else ENABLED,
            "dest-1" if w.api == REST else "delivery-url",
            NOW - ago,
        )
        for w in account_topics(granted)
    }


def test_a_seller_confirmed_within_the_recheck_costs_no_call() -> None:
    assert seller_current(account_topics(FULL), confirmed(FULL), "dest-1", NOW, DAY)
    partial = " ".join(s for s in FULL.split() if "commerce.message" not in s)
    assert seller_current(account_topics(partial), confirmed(partial), "dest-1", NOW, DAY)


@pytest.mark.parametrize(
    "why",
    ["new seller", "recheck due", "recheck off", "failed", "new destination", "scope granted"],
)
def test_a_seller_is_checked_when_something_may_be_off(why: str) -> None:
    wanted = account_topics(FULL)
    kept = confirmed(FULL)
    destination, recheck = "dest-1", DAY
    first = (wanted[0].api, wanted[0].topic)
    if why == "new seller":
        kept = {}
    elif why == "recheck due":
        kept = confirmed(FULL, ago=DAY)
    elif why == "recheck off":
        recheck = timedelta(0)
    elif why == "failed":
        kept[first] = Kept(FAILED, "dest-1", NOW)
    elif why == "new destination":
        destination = "dest-2"
    elif why == "scope granted":  # kept unavailable, but the consent now has the scope
        kept[first] = Kept(UNAVAILABLE, None, NOW)
    assert not seller_current(wanted, kept, destination, NOW, recheck)
