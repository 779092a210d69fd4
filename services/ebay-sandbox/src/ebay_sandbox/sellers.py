"""Deterministic sellers and their lazily generated, ever-growing order streams."""

from bisect import bisect_left, bisect_right

from ebay_sandbox.catalog import ADJECTIVES, DETAILS, PRODUCTS
from ebay_sandbox.ids import base62, rng, scramble
from ebay_sandbox.model import Listing, Seller
from ebay_sandbox.orders import gap_rng, next_gap_ms, plan_order
from ebay_sandbox.render import OrderView

# Mostly US sellers, with a UK and a German one among the first few.
_MARKET_CYCLE = ("EBAY_US", "EBAY_GB", "EBAY_US", "EBAY_DE", "EBAY_US", "EBAY_US")
_LISTINGS_PER_SELLER = 25


def _listings(seed: int, index: int) -> tuple[Listing, ...]:
    r = rng(seed, "listings", index)
    listings = []
    for j in range(_LISTINGS_PER_SELLER):
        item_number = scramble(index * 1000 + j, 11, f"{seed}/item")
        listings.append(
            Listing(
                legacy_item_id=f"1{item_number:011d}",
                sku=f"SKU-{index + 1:03d}-{j + 1:04d}",
                title=f"{r.choice(ADJECTIVES)} {r.choice(PRODUCTS)} {r.choice(DETAILS)}",
                price_cents=r.randint(4, 249) * 100 + r.choice((99, 95, 50, 0)),
                shipping_cents=0 if r.random() < 0.4 else r.choice((399, 499, 599, 899)),
                sold_format="AUCTION" if r.random() < 0.1 else "FIXED_PRICE",
            )
        )
    return tuple(listings)


def make_seller(seed: int, index: int) -> Seller:
    """Seller ``index`` (0-based) for ``seed``."""
    r = rng(seed, "seller", index)
    return Seller(
        index=index,
        user_id=base62(f"{seed}/user/{index}", 11),
        username=f"sandbox_seller_{index + 1}",
        marketplace_id=_MARKET_CYCLE[index % len(_MARKET_CYCLE)],
        account_type="BUSINESS" if r.random() < 0.4 else "INDIVIDUAL",
        listings=_listings(seed, index),
    )


def make_sellers(seed: int, count: int) -> list[Seller]:
    """All sellers of a sandbox."""
    return [make_seller(seed, i) for i in range(count)]


class SellerStream:
    """A seller's orders in creation order, generated on demand up to the requested instant."""

    def __init__(self, seed: int, seller: Seller, start_ms: int, orders_per_day: float) -> None:
        self.seed = seed
        self.seller = seller
        self._rate = orders_per_day
        self.orders: list[OrderView] = []
        self._created: list[int] = []
        self._by_id: dict[str, OrderView] = {}
        # Gaps come from one sequential stream; generation is always in index order.
        self._gaps = gap_rng(seed, seller.index)
        self._next_ms: int | None = None
        if orders_per_day > 0:
            self._next_ms = start_ms + next_gap_ms(self._gaps, orders_per_day)

    def ensure(self, until_ms: int) -> None:
        """Generate every order created at or before ``until_ms``."""
        while self._next_ms is not None and self._next_ms <= until_ms:
            index = len(self.orders)
            view = OrderView(plan_order(self.seed, self.seller, index, self._next_ms))
            self.orders.append(view)
            self._created.append(self._next_ms)
            self._by_id[view.order_id] = view
            self._next_ms += next_gap_ms(self._gaps, self._rate)

    def created_between(self, low_ms: int, high_ms: int) -> list[OrderView]:
        """Orders with ``low_ms <= creation <= high_ms``, oldest first."""
        self.ensure(high_ms)
        return self.orders[
            bisect_left(self._created, low_ms) : bisect_right(self._created, high_ms)
        ]

    def get(self, order_id: str, now_ms: int) -> OrderView | None:
        """The order with this id if it exists at ``now_ms``."""
        self.ensure(now_ms)
        view = self._by_id.get(order_id)
        if view is None or view.plan.created_ms > now_ms:
            return None
        return view
