"""GetMyeBayBuying: the WonList container (what the seller bought, up to 60 days back)."""

from ebay_sandbox.calls import Call
from ebay_sandbox.catalog import MARKETS
from ebay_sandbox.clock import DAY
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.trading.request import TradingRequest
from ebay_sandbox.trading.xml import el, money, node, time_el
from ebay_sandbox.world.purchases import PurchasePlan
from ebay_sandbox.world.seller import SellerWorld

MAX_DURATION_DAYS = 60
MAX_ENTRIES_PER_PAGE = 200


def select_purchases(
    world: SellerWorld, low_ms: int, high_ms: int, horizon: Horizon
) -> list[PurchasePlan]:
    """Purchases made in ``[low_ms, high_ms]``, newest first."""
    now_ms = horizon.now_ms
    indexes = world.purchases.between(low_ms, min(high_ms, now_ms))
    if high_ms >= now_ms:
        horizon.change_at(world.purchases.next_after(now_ms))
    found = [world.purchases.get(i) for i in indexes]
    if found:
        horizon.change_at(found[0].created_ms + (now_ms - low_ms) + 1)
    found.sort(key=lambda p: (-p.created_ms, p.transaction_id))
    return found


def transaction_xml(purchase: PurchasePlan, currency: str) -> str:
    """One ``<OrderTransaction>``."""
    item = node(
        "Item",
        [
            el("ItemID", purchase.item_id),
            node("Seller", [el("UserID", purchase.seller_user)]),
            el("Title", purchase.title),
        ],
    )
    total = purchase.price_cents * purchase.quantity
    transaction = node(
        "Transaction",
        [
            time_el("CreatedDate", purchase.created_ms),
            item,
            el("QuantityPurchased", purchase.quantity),
            el("TransactionID", purchase.transaction_id),
            money("TransactionPrice", purchase.price_cents, currency),
            el("OrderLineItemID", f"{purchase.item_id}-{purchase.transaction_id}"),
            money("TotalPrice", total, currency),
        ],
    )
    return node("OrderTransaction", [transaction])


def won_list(call: Call, request: TradingRequest) -> str:
    """The ``<WonList>`` element."""
    if not request.flag("WonList/Include", default=True):
        return ""
    days = request.integer(
        "WonList/DurationInDays", default=MAX_DURATION_DAYS, low=0, high=MAX_DURATION_DAYS
    )
    per_page = request.integer(
        "WonList/Pagination/EntriesPerPage", default=25, low=1, high=MAX_ENTRIES_PER_PAGE
    )
    page = request.integer("WonList/Pagination/PageNumber", default=1, low=1, high=10**6)
    now_ms = call.now_ms
    low = now_ms - days * DAY
    purchases = call.selection(
        (days,), lambda horizon: select_purchases(call.world, low, now_ms, horizon)
    )
    pages = -(-len(purchases) // per_page)
    first = (page - 1) * per_page
    chosen = purchases[first : first + call.page_size(per_page)]
    currency = MARKETS[call.seller.marketplace_id].currency
    parts = []
    if chosen:
        parts.append(node("OrderTransactionArray", [transaction_xml(p, currency) for p in chosen]))
    parts.append(
        node(
            "PaginationResult",
            [el("TotalNumberOfPages", pages), el("TotalNumberOfEntries", len(purchases))],
        )
    )
    return node("WonList", parts)
