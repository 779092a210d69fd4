"""Offers (Inventory ``EbayOfferDetailsWithAll``)."""

from __future__ import annotations

from typing import Any

from writer.domain import MalformedRecordError, Mapped, parse_amount, required_str


def map_offer(account_id: int, raw: dict[str, Any]) -> Mapped:
    """An eBay offer as its ``ebay_offers`` row.

    ``listing`` is there only once the offer is published. An auction has no fixed ``price``:
    its start price is what it is offered at.
    """
    pricing = raw.get("pricingSummary") or {}
    price_value, price_currency = parse_amount(
        pricing.get("price") or pricing.get("auctionStartPrice")
    )
    listing = raw.get("listing") or {}
    quantity = raw.get("availableQuantity")
    if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool)):
        raise MalformedRecordError(f"availableQuantity is not an integer: {quantity!r}")
    return Mapped(
        {
            "account_id": account_id,
            "offer_id": required_str(raw, "offerId"),
            "sku": required_str(raw, "sku"),
            "marketplace_id": raw.get("marketplaceId"),
            "format": raw.get("format"),
            "status": raw.get("status"),
            "listing_id": listing.get("listingId"),
            "listing_status": listing.get("listingStatus"),
            "available_quantity": quantity,
            "price_value": price_value,
            "price_currency": price_currency,
            "payload": raw,
        }
    )
