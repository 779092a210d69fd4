"""The eBay API families ebaysync mirrors, and what distinguishes them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum


class Family(StrEnum):
    ORDERS = "orders"
    TRANSACTIONS = "transactions"
    FINANCES = "finances"
    OFFERS = "offers"
    MESSAGES = "messages"
    ACTIVE_INVENTORY = "active_inventory"
    PURCHASES = "purchases"
    CASES = "cases"
    INQUIRIES = "inquiries"
    RETURNS = "returns"
    PAYMENT_DISPUTES = "payment_disputes"


# Families that are fetched end to end today; the others have tables but no fetcher yet.
IMPLEMENTED_FAMILIES: frozenset[Family] = frozenset(
    {
        Family.ORDERS,
        Family.TRANSACTIONS,
        Family.FINANCES,
        Family.OFFERS,
        Family.CASES,
        Family.INQUIRIES,
        Family.RETURNS,
        Family.PAYMENT_DISPUTES,
        Family.MESSAGES,
        Family.ACTIVE_INVENTORY,
        Family.PURCHASES,
    }
)

# Snapshot families enumerate everything each run and have no time window.
SNAPSHOT_FAMILIES: frozenset[Family] = frozenset({Family.OFFERS, Family.ACTIVE_INVENTORY})


class Purpose(StrEnum):
    """What an account is connected for (chosen at connect, changeable by an admin)."""

    SELLER = "seller"
    BUYER = "buyer"
    BOTH = "both"


# A buyer's side of eBay is what it bought; everything else is the seller's.
BUYER_FAMILIES: frozenset[Family] = frozenset({Family.PURCHASES})

# The families each purpose syncs: the scheduler plans, and the admin API shows, only these.
PURPOSE_FAMILIES: dict[Purpose, frozenset[Family]] = {
    Purpose.SELLER: frozenset(Family) - BUYER_FAMILIES,
    Purpose.BUYER: BUYER_FAMILIES,
    Purpose.BOTH: frozenset(Family),
}


def families_of(purpose: str) -> frozenset[Family]:
    return PURPOSE_FAMILIES[Purpose(purpose)]


# The key a fetched record carries its detail call's answer under (inquiries, returns, payment
# disputes: fetcher.sources.details); the writer keeps it apart from the summary.
DETAIL_KEY = "_detail"
DETAIL_FAMILIES = frozenset({Family.INQUIRIES, Family.RETURNS, Family.PAYMENT_DISPUTES})
# The key a targeted window's record of a snapshot family carries (true) when eBay reports the
# entity ended (a listing's GetItem ``ListingStatus``): the writer ends its row, as a complete
# snapshot would, instead of storing it as live (docs/adr/0018-push-notifications.md).
ENDED_KEY = "_ended"


# How often each refresh phase runs; between, the fetcher skips it (no eBay call). ``recent``
# re-reads the span before the window in which entities still change, ``open`` the entities
# still open whatever their age (fetcher.sources). A phase not named here runs every window.
# A seller-operations team's defaults: a case's or payout's later change shows within the
# hour, an open case's within 30 minutes. Messages check every run with one ReturnSummary
# call and read headers only when it moved; their full re-read of the last days is daily.
PHASE_CADENCES: Mapping[Family, Mapping[str, timedelta]] = {
    Family.TRANSACTIONS: {"recent": timedelta(hours=1)},
    Family.FINANCES: {"recent": timedelta(hours=1)},
    Family.CASES: {"open": timedelta(minutes=30), "recent": timedelta(hours=1)},
    Family.INQUIRIES: {"open": timedelta(minutes=30), "recent": timedelta(hours=1)},
    Family.RETURNS: {"open": timedelta(minutes=30), "recent": timedelta(hours=1)},
    Family.PAYMENT_DISPUTES: {"open": timedelta(minutes=30)},
    Family.MESSAGES: {"recent": timedelta(days=1)},
}
