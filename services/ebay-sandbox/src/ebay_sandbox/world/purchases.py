"""What a seller buys on eBay (Trading GetMyeBayBuying WonList): supplies from other sellers."""

from dataclasses import dataclass

from ebay_sandbox.catalog import SUPPLIES, SUPPLY_SELLERS
from ebay_sandbox.ids import rng, scramble
from ebay_sandbox.world.model import Seller

_PER_SELLER = 10**7


@dataclass(frozen=True, slots=True)
class PurchasePlan:
    """One won item."""

    index: int
    item_id: str
    transaction_id: str
    seller_user: str
    title: str
    quantity: int
    price_cents: int
    created_ms: int


def plan_purchase(seed: int, seller: Seller, index: int, created_ms: int) -> PurchasePlan:
    """Purchase ``index`` of ``seller``; a pure function of its arguments."""
    r = rng(seed, "purchase", seller.index, index)
    number = seller.index * _PER_SELLER + index
    return PurchasePlan(
        index=index,
        item_id=f"2{scramble(number, 11, f'{seed}/bought'):011d}",
        transaction_id=f"1{scramble(number, 12, f'{seed}/boughttxn'):012d}",
        seller_user=r.choice(SUPPLY_SELLERS),
        title=r.choice(SUPPLIES),
        quantity=r.choice((1, 1, 1, 2, 5)),
        price_cents=r.randint(5, 60) * 100 + r.choice((0, 49, 95, 99)),
        created_ms=created_ms,
    )
