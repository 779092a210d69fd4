"""GetMyeBaySelling: the ActiveList container (pages of up to 200, at most 25,000 items)."""

from collections.abc import Callable

from ebay_sandbox.calls import Call
from ebay_sandbox.catalog import MARKETS
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.trading.errors import invalid_input
from ebay_sandbox.trading.request import TradingRequest
from ebay_sandbox.trading.xml import duration, el, money, node, time_el
from ebay_sandbox.world.listings import GTC_CYCLE_MS, ListingBook
from ebay_sandbox.world.model import Listing

MAX_ENTRIES_PER_PAGE = 200
DEFAULT_ENTRIES = 25
CEILING = 25_000  # GetMyeBaySelling never reaches past the 25,000th item
SortKey = Callable[[Listing, int], int | str]
SORTS: dict[str, SortKey] = {
    "ItemID": lambda item, _now: item.item_id,
    "StartTime": lambda item, _now: item.start_ms,
    "TimeLeft": lambda item, now: end_of_view(item, now),
    "CurrentPrice": lambda item, now: current_price(item, now),
    "Title": lambda item, _now: item.title,
    "QuantityAvailable": lambda item, now: quantity_available(item, now),
    "WatchCount": lambda item, _now: item.watch_count,
    "BidCount": lambda item, now: bids(item, now),
}


def end_of_view(item: Listing, now_ms: int) -> int:
    """The end TimeLeft counts down to: the auction end, or a GTC listing's 30-day cycle."""
    if item.sold_format == "AUCTION":
        return item.end_ms
    cycles = (now_ms - item.start_ms) // GTC_CYCLE_MS + 1
    return min(item.start_ms + cycles * GTC_CYCLE_MS, item.end_ms)


def bids(item: Listing, now_ms: int) -> int:
    """Bids so far (auctions)."""
    return item.activity_count(now_ms) if item.sold_format == "AUCTION" else 0


def sold(item: Listing, now_ms: int) -> int:
    """Units sold so far (fixed price)."""
    return item.activity_count(now_ms) if item.sold_format != "AUCTION" else 0


def current_price(item: Listing, now_ms: int) -> int:
    """Auctions rise by a bid increment per bid."""
    return item.price_cents + 50 * bids(item, now_ms)


def quantity_available(item: Listing, now_ms: int) -> int:
    """Units left."""
    return item.quantity - sold(item, now_ms)


def active_listings(book: ListingBook, horizon: Horizon) -> list[Listing]:
    """Every live listing, with the instants the set or any TimeLeft cycle changes."""
    now_ms = horizon.now_ms
    listings, changes = book.all_active(now_ms)
    horizon.change_at(changes)
    for item in listings:
        horizon.change_at(end_of_view(item, now_ms))
        horizon.changes_at(item.activity)
    return listings


def item_xml(item: Listing, now_ms: int, currency: str, listing_status: str | None = None) -> str:
    """One ``<Item>`` of the ActiveList (element order as in eBay's samples); GetItem's adds
    ``SellingStatus/ListingStatus``."""
    auction = item.sold_format == "AUCTION"
    url = f"https://www.ebay.com/itm/{item.item_id}"
    parts = []
    if not auction:
        parts.append(money("BuyItNowPrice", 0, currency))
    parts += [
        el("ItemID", item.item_id),
        node("ListingDetails", [time_el("StartTime", item.start_ms), el("ViewItemURL", url)]),
        el("ListingDuration", "Days_7" if auction else "GTC"),
        el("ListingType", "Chinese" if auction else "FixedPriceItem"),
        el("Quantity", item.quantity),
    ]
    status = [el("BidCount", bids(item, now_ms))] if auction else []
    status.append(money("CurrentPrice", current_price(item, now_ms), currency))
    if listing_status is not None:
        status.append(el("ListingStatus", listing_status))
    if not auction:
        status.append(el("QuantitySold", sold(item, now_ms)))
    parts += [
        node("SellingStatus", status),
        node("ShippingDetails", [el("ShippingType", "Flat")]),
        el("TimeLeft", duration(max(0, end_of_view(item, now_ms) - now_ms))),
        el("Title", item.title),
        el("WatchCount", item.watch_count),
        el("QuantityAvailable", quantity_available(item, now_ms)),
        el("SKU", item.sku),
        node(
            "PictureDetails",
            [el("GalleryURL", f"https://i.ebayimg.com/images/g/{item.sku}/s-l140.jpg")],
        ),
    ]
    return node("Item", parts)


def sorted_listings(call: Call, sort: str) -> list[Listing]:
    """The live listings in the requested order (ItemID breaks ties)."""
    name = sort.removesuffix("Descending")
    key = SORTS[name]
    descending = sort.endswith("Descending")

    def build(horizon: Horizon) -> list[Listing]:
        items = active_listings(call.world.book, horizon)
        items.sort(key=lambda i: i.item_id)
        items.sort(key=lambda i: key(i, call.now_ms), reverse=descending)
        return items

    return call.selection(("active", sort), build)


def active_list(call: Call, request: TradingRequest) -> str:
    """The ``<ActiveList>`` element for the request (empty when not asked for)."""
    container = request.find("ActiveList")
    detail_all = "ReturnAll" in request.texts("DetailLevel")
    if container is None and not detail_all and _other_containers(request):
        return ""
    if not request.flag("ActiveList/Include", default=True):
        return ""
    sort = request.text("ActiveList/Sort") or "TimeLeft"
    if sort.removesuffix("Descending") not in SORTS:
        raise invalid_input("Sort")
    per_page = request.integer(
        "ActiveList/Pagination/EntriesPerPage",
        default=DEFAULT_ENTRIES,
        low=1,
        high=MAX_ENTRIES_PER_PAGE,
    )
    page = request.integer("ActiveList/Pagination/PageNumber", default=1, low=1, high=10**6)
    items = sorted_listings(call, sort)
    total = len(items)
    reachable = min(total, CEILING)
    pages = -(-reachable // per_page)
    start = (page - 1) * per_page
    size = call.page_size(per_page)
    chosen = items[start : min(start + size, reachable)] if page <= pages else []
    currency = MARKETS[call.seller.marketplace_id].currency
    parts = []
    if chosen:
        parts.append(node("ItemArray", [item_xml(i, call.now_ms, currency) for i in chosen]))
    parts.append(
        node(
            "PaginationResult", [el("TotalNumberOfPages", pages), el("TotalNumberOfEntries", total)]
        )
    )
    return node("ActiveList", parts)


def _other_containers(request: TradingRequest) -> bool:
    others = ("SoldList", "UnsoldList", "ScheduledList", "DeletedFromSoldList", "SellingSummary")
    return any(request.find(name) is not None for name in others)
