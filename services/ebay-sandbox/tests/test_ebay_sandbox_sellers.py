"""Pure generation: sellers and order streams are deterministic and well formed."""

import re
from datetime import UTC, datetime

from ebay_sandbox.clock import to_ms
from ebay_sandbox.model import EventKind
from ebay_sandbox.orders import DAY
from ebay_sandbox.sellers import SellerStream, make_sellers

NOW = to_ms(datetime(2025, 6, 1, tzinfo=UTC))
ORDER_ID = re.compile(r"^\d{2}-\d{5}-\d{5}$")


def _stream(seed: int, index: int = 0, rate: float = 20) -> SellerStream:
    seller = make_sellers(seed, index + 1)[index]
    stream = SellerStream(seed, seller, NOW - 120 * DAY, rate)
    stream.ensure(NOW)
    return stream


def test_same_seed_same_sellers_and_orders() -> None:
    assert make_sellers(5, 4) == make_sellers(5, 4)
    a, b = _stream(5, 1), _stream(5, 1)
    assert [v.plan for v in a.orders] == [v.plan for v in b.orders]
    assert [v.to_json(v.applied(NOW), "http://x") for v in a.orders[-50:]] == [
        v.to_json(v.applied(NOW), "http://x") for v in b.orders[-50:]
    ]


def test_different_seed_differs() -> None:
    assert [s.user_id for s in make_sellers(1, 3)] != [s.user_id for s in make_sellers(2, 3)]
    assert _stream(1).orders[0].order_id != _stream(2).orders[0].order_id


def test_sellers_shape() -> None:
    sellers = make_sellers(1, 6)
    assert [s.username for s in sellers] == [f"sandbox_seller_{i}" for i in range(1, 7)]
    markets = [s.marketplace_id for s in sellers]
    assert markets.count("EBAY_US") > len(markets) // 2
    assert {"EBAY_GB", "EBAY_DE"} <= set(markets)
    assert len({s.user_id for s in sellers}) == 6
    assert all(s.account_type in {"INDIVIDUAL", "BUSINESS"} for s in sellers)


def test_orders_are_well_formed() -> None:
    streams = [_stream(3, i) for i in range(3)]
    ids = [v.order_id for s in streams for v in s.orders]
    assert len(ids) == len(set(ids)), "order ids unique across sellers"
    assert all(ORDER_ID.match(i) for i in ids)
    line_ids = [line.line_item_id for s in streams for v in s.orders for line in v.plan.lines]
    assert len(line_ids) == len(set(line_ids))
    for stream in streams:
        created = [v.plan.created_ms for v in stream.orders]
        assert created == sorted(set(created)), "creation strictly increasing"
        for view in stream.orders:
            times = view.event_times
            assert list(times) == sorted(set(times))
            assert view.plan.events[0].kind is EventKind.CREATED
            assert 1 <= len(view.plan.lines) <= 3


def test_rate_is_roughly_orders_per_day() -> None:
    count = len(_stream(9, rate=20).orders)
    assert 2400 * 0.85 < count < 2400 * 1.15


def test_stream_continues_into_the_future() -> None:
    stream = _stream(4)
    before = len(stream.orders)
    later = stream.created_between(NOW + 1, NOW + 2 * DAY)
    assert later
    assert len(stream.orders) == before + len(later)
    assert stream.get(later[0].order_id, NOW) is None, "not visible before its creation"
    assert stream.get(later[0].order_id, NOW + 2 * DAY) is later[0]


def test_zero_rate_has_no_orders() -> None:
    assert _stream(1, rate=0).orders == []
