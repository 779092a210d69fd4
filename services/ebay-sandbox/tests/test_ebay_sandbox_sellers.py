"""Pure generation: sellers and their worlds are deterministic and well formed."""

import re
from datetime import UTC, datetime

from ebay_sandbox.clock import DAY, to_ms
from ebay_sandbox.profiles import PROFILES, Profile
from ebay_sandbox.world.model import EventKind, Seller
from ebay_sandbox.world.order_state import OrderRecord
from ebay_sandbox.world.orders import MAX_SPAN_MS
from ebay_sandbox.world.seller import SellerWorld, make_seller

NOW = to_ms(datetime(2025, 6, 1, tzinfo=UTC))
ORDER_ID = re.compile(r"^\d{2}-\d{5}-\d{5}$")
SMALL = PROFILES["small"]


def _sellers(seed: int, count: int, profile: Profile = SMALL) -> list[Seller]:
    return [make_seller(seed, i, profile, NOW) for i in range(count)]


def _orders(seed: int, index: int = 0, rate: float = 20) -> list[OrderRecord]:
    profile = Profile("test", 25, rate, 120, 1, 1)
    world = SellerWorld(seed, make_seller(seed, index, profile, NOW), NOW, 10_000)
    return [world.orders.get(i) for i in world.orders.between(0, NOW)]


def test_same_seed_same_sellers_and_orders() -> None:
    assert _sellers(5, 4) == _sellers(5, 4)
    a, b = _orders(5, 1), _orders(5, 1)
    assert [r.plan for r in a] == [r.plan for r in b]


def test_different_seed_differs() -> None:
    assert [s.user_id for s in _sellers(1, 3)] != [s.user_id for s in _sellers(2, 3)]
    assert _orders(1)[0].order_id != _orders(2)[0].order_id


def test_sellers_shape() -> None:
    sellers = _sellers(1, 6)
    assert [s.username for s in sellers] == [f"sandbox_seller_{i}" for i in range(1, 7)]
    markets = [s.marketplace_id for s in sellers]
    assert markets.count("EBAY_US") > len(markets) // 2
    assert {"EBAY_GB", "EBAY_DE"} <= set(markets)
    assert len({s.user_id for s in sellers}) == 6
    assert all(s.account_type in {"INDIVIDUAL", "BUSINESS"} for s in sellers)
    assert all(s.registration_ms < NOW - SMALL.history_days * DAY for s in sellers)


def test_orders_are_well_formed() -> None:
    worlds = [_orders(3, i) for i in range(3)]
    ids = [r.order_id for orders in worlds for r in orders]
    assert len(ids) == len(set(ids)), "order ids unique across sellers"
    assert all(ORDER_ID.match(i) for i in ids)
    line_ids = [line.line_item_id for orders in worlds for r in orders for line in r.plan.lines]
    assert len(line_ids) == len(set(line_ids))
    for orders in worlds:
        created = [r.plan.created_ms for r in orders]
        assert created == sorted(set(created)), "creation strictly increasing"
        for record in orders:
            times = record.event_times
            assert list(times) == sorted(set(times))
            assert record.plan.events[0].kind is EventKind.CREATED
            assert 1 <= len(record.plan.lines) <= 3


def test_nothing_happens_after_the_span_bound() -> None:
    """Date filters rely on it: every change lies within MAX_SPAN_MS of the creation."""
    orders = _orders(11, rate=200)
    flows = [f for r in orders for f in r.plan.flows]
    assert len({f.kind for f in flows}) == 4, "returns, inquiries, cases and disputes occur"
    for record in orders:
        limit = record.plan.created_ms + MAX_SPAN_MS
        assert record.event_times[-1] <= limit
        for flow in record.plan.flows:
            assert list(flow.step_times) == sorted(set(flow.step_times))
            assert flow.step_times[-1] <= limit
            if flow.refund_ms is not None:
                assert flow.refund_ms in record.event_times, "the order shows the refund"


def test_rate_is_roughly_orders_per_day() -> None:
    count = len(_orders(9, rate=20))
    assert 2400 * 0.85 < count < 2400 * 1.15


def test_orders_continue_into_the_future() -> None:
    profile = Profile("test", 25, 20, 120, 1, 1)
    world = SellerWorld(4, make_seller(4, 0, profile, NOW), NOW, 10_000)
    before = len(world.orders.between(0, NOW))
    later = world.orders.between(NOW + 1, NOW + 2 * DAY)
    assert len(later) > 0
    first = world.orders.get(later[0])
    assert world.find_order(first.order_id, NOW) is None, "not visible before its creation"
    assert world.find_order(first.order_id, NOW + 2 * DAY) is first
    assert len(world.orders.between(0, NOW)) == before


def test_order_lines_reference_live_listings() -> None:
    world = SellerWorld(6, make_seller(6, 0, SMALL, NOW), NOW, 10_000)
    for index in world.orders.between(NOW - 30 * DAY, NOW):
        plan = world.orders.get(index).plan
        for line in plan.lines:
            listing = world.book.by_item_id(line.listing.item_id)
            assert listing == line.listing
            assert listing.start_ms <= plan.created_ms


def test_zero_rate_has_no_orders() -> None:
    assert _orders(1, rate=0) == []
