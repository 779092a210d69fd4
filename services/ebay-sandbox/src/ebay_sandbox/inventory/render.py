"""Inventory items and offers of a seller's Inventory API slots, at an instant."""

from dataclasses import dataclass
from typing import Any

from ebay_sandbox.catalog import MARKETS
from ebay_sandbox.ids import scramble
from ebay_sandbox.paging import money
from ebay_sandbox.world.listings import ListingBook
from ebay_sandbox.world.model import Listing

Json = dict[str, Any]
LOCALES = {"EBAY_US": "en_US", "EBAY_GB": "en_GB", "EBAY_DE": "de_DE"}


@dataclass(frozen=True, slots=True)
class Stock:
    """An Inventory API SKU at an instant: its slot's current listing, or a draft."""

    sku: str
    slot: int | None
    listing: Listing | None  # live listing, or the last one (ended); None for drafts
    live: bool


def offer_id(seed: int, seller_index: int, slot: int) -> str:
    """Stable offer id of a slot (a slot's SKU has one offer, relisted over and over)."""
    return str(10**9 + scramble(seller_index * 40_000 + slot, 9, f"{seed}/offer"))


def stock(book: ListingBook, now_ms: int) -> list[Stock]:
    """Every Inventory API SKU existing at ``now_ms``, sorted by SKU."""
    found = []
    for slot in range(book.slot_count):
        timeline = book.slot(slot)
        if not timeline.inventory or timeline.starts[0] > now_ms:
            continue
        listing = book.latest(slot, now_ms)
        live = listing is not None and listing.end_ms > now_ms
        found.append(Stock(book.sku(slot), slot, listing, live))
    for draft in book.drafts():
        if draft.created_ms <= now_ms:
            found.append(Stock(draft.sku, None, None, False))
    return sorted(found, key=lambda s: s.sku)


def stock_for_sku(book: ListingBook, sku: str, now_ms: int) -> Stock | None:
    """The SKU's stock at ``now_ms`` without scanning the catalogue (SKUs encode their slot)."""
    prefix = f"SKU-{book.seller.index + 1:03d}-"
    rest = sku.removeprefix(prefix)
    if rest == sku:
        return None
    if rest.isdigit() and 1 <= int(rest) <= book.slot_count:
        slot = int(rest) - 1
        timeline = book.slot(slot)
        if book.sku(slot) != sku or not timeline.inventory or timeline.starts[0] > now_ms:
            return None
        listing = book.latest(slot, now_ms)
        return Stock(sku, slot, listing, listing is not None and listing.end_ms > now_ms)
    for draft in book.drafts():
        if draft.sku == sku and draft.created_ms <= now_ms:
            return Stock(sku, None, None, False)
    return None


def available(item: Stock, now_ms: int) -> int:
    """Units that can still be bought."""
    if item.listing is None or not item.live:
        return 0
    return max(0, item.listing.quantity - item.listing.activity_count(now_ms))


def inventory_item_json(book: ListingBook, item: Stock, now_ms: int) -> Json:
    """``InventoryItemWithSkuLocaleGroupid``."""
    market = book.seller.marketplace_id
    if item.listing is not None:
        title, condition = item.listing.title, item.listing.condition
    else:
        draft = next(d for d in book.drafts() if d.sku == item.sku)
        title, condition = draft.title, draft.condition
    return {
        "sku": item.sku,
        "locale": LOCALES.get(market, "en_US"),
        "product": {
            "title": title,
            "description": f"{title}. Ships within one business day.",
            "imageUrls": [f"https://i.ebayimg.com/images/g/{item.sku}/s-l1600.jpg"],
        },
        "condition": condition,
        "availability": {"shipToLocationAvailability": {"quantity": available(item, now_ms)}},
    }


def offer_json(book: ListingBook, item: Stock, now_ms: int) -> Json:
    """``EbayOfferDetailsWithAll`` of a slot's offer."""
    listing = item.listing
    assert listing is not None and item.slot is not None
    seller = book.seller
    currency = MARKETS[seller.marketplace_id].currency
    auction = listing.sold_format == "AUCTION"
    price_key = "auctionStartPrice" if auction else "price"
    sold = listing.activity_count(now_ms) if not auction else 0
    return {
        "offerId": offer_id(book.seed, seller.index, item.slot),
        "sku": item.sku,
        "marketplaceId": seller.marketplace_id,
        "format": listing.sold_format,
        "availableQuantity": available(item, now_ms),
        "pricingSummary": {price_key: money(listing.price_cents, currency)},
        "listingDuration": "DAYS_7" if auction else "GTC",
        "categoryId": listing.category_id,
        "merchantLocationKey": "warehouse-1",
        "listingDescription": f"{listing.title}. Ships within one business day.",
        "listingPolicies": {
            "fulfillmentPolicyId": f"6{seller.index:04d}001",
            "paymentPolicyId": f"6{seller.index:04d}002",
            "returnPolicyId": f"6{seller.index:04d}003",
        },
        "includeCatalogProductDetails": True,
        "hideBuyerDetails": False,
        "status": "PUBLISHED",
        "listing": {
            "listingId": listing.item_id,
            "listingStatus": "ACTIVE" if item.live else "ENDED",
            "soldQuantity": sold,
            "listingOnHold": False,
        },
    }


def stock_change_times(item: Stock) -> list[int]:
    """Instants this SKU's JSON changes (sales, end)."""
    if item.listing is None:
        return []
    return [*item.listing.activity, item.listing.end_ms]
