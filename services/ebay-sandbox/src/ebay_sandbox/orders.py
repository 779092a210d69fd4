"""Deterministic generation of one order: static content and its lifecycle events."""

import random

from ebay_sandbox.catalog import FIRST_NAMES, LAST_NAMES, MARKETS
from ebay_sandbox.ids import rng, scramble
from ebay_sandbox.model import Contact, Event, EventKind, LinePlan, OrderPlan, Seller

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Order numbers are unique per (seller, index) as long as a seller has < 10**7 orders.
_PER_SELLER = 10**7


def order_number(seller_index: int, index: int) -> int:
    """Dense number identifying an order inside one sandbox."""
    return seller_index * _PER_SELLER + index


def format_order_id(seed: int, number: int) -> str:
    """eBay-style order id ``NN-NNNNN-NNNNN`` (bijective in ``number``)."""
    digits = str(scramble(number, 12, f"{seed}/order")).zfill(12)
    return f"{digits[:2]}-{digits[2:7]}-{digits[7:]}"


def _between(r: random.Random, low: int, high: int) -> int:
    return int(r.uniform(low, high))


def _buyer(r: random.Random, marketplace_id: str) -> tuple[str, Contact]:
    market = MARKETS[marketplace_id]
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    number = r.randint(1, 9999)
    place = r.choice(market.places)
    contact = Contact(
        full_name=f"{first} {last}",
        email=f"{first}.{last}{number}@example.com".lower(),
        phone=f"{market.phone_prefix}{r.randint(200, 999)} {r.randint(1_000_000, 9_999_999)}",
        address_line1=f"{r.randint(1, 999)} {r.choice(market.streets)}",
        city=place.city,
        region=place.region,
        postal_code=place.postal_code,
        country=market.country,
    )
    return f"{first}_{last}{number}".lower(), contact


def _lines(r: random.Random, seed: int, seller: Seller, number: int) -> tuple[LinePlan, ...]:
    count = r.choices((1, 2, 3), weights=(70, 20, 10))[0]
    listings = r.sample(seller.listings, min(count, len(seller.listings)))
    lines = []
    for j, listing in enumerate(listings):
        quantity = 1 if r.random() < 0.85 else r.randint(2, 3)
        line_number = scramble(number * 4 + j, 13, f"{seed}/line")
        lines.append(
            LinePlan(
                line_item_id=f"1{line_number:013d}",
                listing=listing,
                quantity=quantity,
                shipping_cents=listing.shipping_cents,
            )
        )
    return tuple(lines)


class _Timeline:
    """Collects events, keeping times strictly increasing."""

    def __init__(self, created_ms: int) -> None:
        self.events: list[Event] = [Event(created_ms, EventKind.CREATED)]

    @property
    def last_ms(self) -> int:
        return self.events[-1].at_ms

    def add(
        self,
        at_ms: int,
        kind: EventKind,
        *,
        lines: tuple[int, ...] = (),
        amount_cents: int = 0,
        ref: str = "",
    ) -> int:
        at_ms = max(at_ms, self.last_ms + 1)
        self.events.append(Event(at_ms, kind, lines, amount_cents, ref))
        return at_ms


def _ref(seed: int, kind: str, number: int, digits: int) -> str:
    return str(scramble(number, digits, f"{seed}/{kind}")).zfill(digits)


def _events(
    r: random.Random, seed: int, number: int, created_ms: int, lines: tuple[LinePlan, ...]
) -> tuple[Event, ...]:
    tl = _Timeline(created_ms)
    total = sum(line.total_cents for line in lines)
    # Most buyers pay within minutes, a few take hours or days.
    pay_delay = r.choices(
        ((MINUTE // 2, 5 * MINUTE), (5 * MINUTE, 2 * HOUR), (2 * HOUR, 2 * DAY)),
        weights=(80, 15, 5),
    )[0]
    paid = tl.add(created_ms + _between(r, *pay_delay), EventKind.PAID)
    ship_after = paid
    if r.random() < 0.05:
        requested = tl.add(
            paid + _between(r, 10 * MINUTE, 12 * HOUR),
            EventKind.CANCEL_REQUESTED,
            ref=_ref(seed, "cancel", number, 12),
        )
        if r.random() < 0.8:
            cancelled = requested + _between(r, 30 * MINUTE, 2 * DAY)
            refund_id = _ref(seed, "refund", number * 2, 12)
            tl.add(cancelled, EventKind.CANCELLED, amount_cents=total, ref=refund_id)
            return tuple(tl.events)
        ship_after = tl.add(requested + _between(r, HOUR, DAY), EventKind.CANCEL_REJECTED)
    shipped = ship_after + _between(r, 2 * HOUR, 3 * DAY)
    indexes = tuple(range(len(lines)))
    groups = [(i,) for i in indexes] if len(lines) > 1 and r.random() < 0.5 else [indexes]
    for g, group in enumerate(groups):
        tracking = _ref(seed, "tracking", number * 4 + g, 20)
        shipped = tl.add(shipped, EventKind.SHIPPED, lines=group, ref=tracking)
        shipped += _between(r, 2 * HOUR, 2 * DAY)
    if r.random() < 0.04:
        at = tl.last_ms + _between(r, 5 * DAY, 30 * DAY)
        refund_id = _ref(seed, "refund", number * 2 + 1, 12)
        if r.random() < 0.5:
            tl.add(at, EventKind.REFUNDED, lines=indexes, amount_cents=total, ref=refund_id)
        else:
            amount = max(100, int(lines[0].total_cents * r.uniform(0.2, 0.6)))
            tl.add(at, EventKind.REFUNDED, lines=(0,), amount_cents=amount, ref=refund_id)
    return tuple(tl.events)


def plan_order(seed: int, seller: Seller, index: int, created_ms: int) -> OrderPlan:
    """Build order ``index`` of ``seller``; a pure function of its arguments."""
    r = rng(seed, "order", seller.index, index)
    number = order_number(seller.index, index)
    username, contact = _buyer(r, seller.marketplace_id)
    lines = _lines(r, seed, seller, number)
    market = MARKETS[seller.marketplace_id]
    return OrderPlan(
        order_id=format_order_id(seed, number),
        index=index,
        seller=seller,
        currency=market.currency,
        buyer_username=username,
        buyer=contact,
        lines=lines,
        carrier=r.choice(market.carriers),
        sales_record_reference=str(1001 + index),
        events=_events(r, seed, number, created_ms, lines),
    )


def gap_rng(seed: int, seller_index: int) -> random.Random:
    """The RNG whose successive draws space out one seller's orders."""
    return rng(seed, "gaps", seller_index)


def next_gap_ms(r: random.Random, orders_per_day: float) -> int:
    """Exponential inter-arrival gap (Poisson arrivals), at least 1 ms so times never tie."""
    return max(1, int(r.expovariate(orders_per_day / DAY)))
