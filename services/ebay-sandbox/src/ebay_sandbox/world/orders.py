"""Deterministic generation of one order: static content, lifecycle events, after-sale flows."""

import random

from ebay_sandbox.catalog import FIRST_NAMES, LAST_NAMES, MARKETS
from ebay_sandbox.clock import DAY, HOUR, MINUTE
from ebay_sandbox.ids import rng, scramble, unscramble
from ebay_sandbox.world.aftersale import OrderContext, plan_flows
from ebay_sandbox.world.listings import ListingBook
from ebay_sandbox.world.model import (
    Contact,
    Event,
    EventKind,
    Flow,
    LinePlan,
    Listing,
    OrderPlan,
    Seller,
)

# Order numbers are unique per (seller, index) as long as a seller has < 10**7 orders.
PER_SELLER = 10**7
# Nothing happens to an order (or its flows) later than this after its creation; date filters
# on later events therefore only need to look at orders created this much earlier.
MAX_SPAN_MS = 120 * DAY
_ORDER_DIGITS = 12


def order_number(seller_index: int, index: int) -> int:
    """Dense number identifying an order inside one sandbox."""
    return seller_index * PER_SELLER + index


def format_order_id(seed: int, number: int) -> str:
    """eBay-style order id ``NN-NNNNN-NNNNN`` (bijective in ``number``)."""
    digits = str(scramble(number, _ORDER_DIGITS, f"{seed}/order")).zfill(_ORDER_DIGITS)
    return f"{digits[:2]}-{digits[2:7]}-{digits[7:]}"


def parse_order_id(seed: int, order_id: str) -> tuple[int, int] | None:
    """(seller index, order index) an order id was made from; None if it is not one."""
    digits = order_id.replace("-", "")
    shape = [len(p) for p in order_id.split("-")]
    if shape != [2, 5, 5] or not digits.isdigit():
        return None
    return divmod(unscramble(int(digits), _ORDER_DIGITS, f"{seed}/order"), PER_SELLER)


def _between(r: random.Random, low: float, high: float) -> int:
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


def _pick_listing(r: random.Random, book: ListingBook, created_ms: int) -> Listing:
    # Buyers buy what is live; a slot between two listings sold its last one just before.
    for _ in range(6):
        listing = book.active(r.randrange(book.slot_count), created_ms)
        if listing is not None:
            return listing
    slot = r.randrange(book.slot_count)
    return book.latest(slot, created_ms) or book.listing(slot, 0)


def _lines(
    r: random.Random, seed: int, book: ListingBook, number: int, created_ms: int
) -> tuple[LinePlan, ...]:
    count = min(r.choices((1, 2, 3), weights=(70, 20, 10))[0], book.slot_count)
    picked: dict[str, Listing] = {}
    for _ in range(count * 4):  # bounded: a tiny catalogue may not have `count` live listings
        if len(picked) == count:
            break
        listing = _pick_listing(r, book, created_ms)
        picked.setdefault(listing.item_id, listing)
    lines = []
    for j, listing in enumerate(picked.values()):
        quantity = 1 if r.random() < 0.85 or listing.quantity == 1 else r.randint(2, 3)
        lines.append(
            LinePlan(
                line_item_id=f"1{scramble(number * 4 + j, 13, f'{seed}/line'):013d}",
                transaction_id=f"2{scramble(number * 4 + j, 12, f'{seed}/txn'):012d}",
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
) -> tuple[tuple[Event, ...], tuple[Flow, ...]]:
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
            return tuple(tl.events), ()
        ship_after = tl.add(requested + _between(r, HOUR, DAY), EventKind.CANCEL_REJECTED)
    shipped = ship_after + _between(r, 2 * HOUR, 3 * DAY)
    indexes = tuple(range(len(lines)))
    groups = [(i,) for i in indexes] if len(lines) > 1 and r.random() < 0.5 else [indexes]
    for g, group in enumerate(groups):
        tracking = _ref(seed, "tracking", number * 4 + g, 20)
        shipped = tl.add(shipped, EventKind.SHIPPED, lines=group, ref=tracking)
        shipped += _between(r, 2 * HOUR, 2 * DAY)
    refund_id = _ref(seed, "refund", number * 2 + 1, 12)

    def add_refund(at_ms: int, line: int, amount_cents: int) -> int:
        return tl.add(
            at_ms, EventKind.REFUNDED, lines=(line,), amount_cents=amount_cents, ref=refund_id
        )

    line = r.randrange(len(lines))
    ctx = OrderContext(seed, number, paid, tl.last_ms, line, lines[line].total_cents)
    flows = plan_flows(ctx, r, add_refund)
    if not any(f.refund_ms for f in flows) and r.random() < 0.015:
        # A goodwill refund without a return: the whole order or part of one line.
        at = tl.last_ms + _between(r, 5 * DAY, 30 * DAY)
        if r.random() < 0.5:
            tl.add(at, EventKind.REFUNDED, lines=indexes, amount_cents=total, ref=refund_id)
        else:
            amount = max(100, int(lines[0].total_cents * r.uniform(0.2, 0.6)))
            tl.add(at, EventKind.REFUNDED, lines=(0,), amount_cents=amount, ref=refund_id)
    return tuple(tl.events), tuple(flows)


def plan_order(
    seed: int, seller: Seller, index: int, created_ms: int, book: ListingBook
) -> OrderPlan:
    """Build order ``index`` of ``seller``; a pure function of its arguments."""
    r = rng(seed, "order", seller.index, index)
    number = order_number(seller.index, index)
    username, contact = _buyer(r, seller.marketplace_id)
    lines = _lines(r, seed, book, number, created_ms)
    market = MARKETS[seller.marketplace_id]
    carrier = r.choice(market.carriers)
    label = r.randint(350, 1200) if r.random() < 0.3 else 0
    events, flows = _events(r, seed, number, created_ms, lines)
    return OrderPlan(
        order_id=format_order_id(seed, number),
        index=index,
        seller=seller,
        currency=market.currency,
        buyer_username=username,
        buyer=contact,
        lines=lines,
        carrier=carrier,
        sales_record_reference=str(1001 + index),
        events=events,
        flows=flows,
        label_cents=label if any(e.kind is EventKind.SHIPPED for e in events) else 0,
    )
