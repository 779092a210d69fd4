"""Mapping raw Inventory offers to rows: pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from writer.domain import MalformedRecordError
from writer.mappings.offers import map_offer


def published_offer(offer_id: str = "1000000042", *, auction: bool = False) -> dict[str, Any]:
    """An ``EbayOfferDetailsWithAll`` as getOffers returns a published offer."""
    price_key = "auctionStartPrice" if auction else "price"
    return {
        "offerId": offer_id,
        "sku": "SKU-001-00042",
        "marketplaceId": "EBAY_US",
        "format": "AUCTION" if auction else "FIXED_PRICE",
        "availableQuantity": 3,
        "pricingSummary": {price_key: {"value": "24.99", "currency": "USD"}},
        "listingDuration": "DAYS_7" if auction else "GTC",
        "categoryId": "9355",
        "merchantLocationKey": "warehouse-1",
        "listingPolicies": {"fulfillmentPolicyId": "600001", "paymentPolicyId": "600002"},
        "status": "PUBLISHED",
        "listing": {
            "listingId": "110554433221",
            "listingStatus": "ACTIVE",
            "soldQuantity": 2,
            "listingOnHold": False,
        },
    }


def test_a_published_offer_maps_to_typed_columns_and_keeps_its_payload() -> None:
    raw = published_offer()
    row = map_offer(7, raw).row
    assert row == {
        "account_id": 7,
        "offer_id": "1000000042",
        "sku": "SKU-001-00042",
        "marketplace_id": "EBAY_US",
        "format": "FIXED_PRICE",
        "status": "PUBLISHED",
        "listing_id": "110554433221",
        "listing_status": "ACTIVE",
        "available_quantity": 3,
        "price_value": Decimal("24.99"),
        "price_currency": "USD",
        "payload": raw,
    }
    assert row["payload"] is raw


def test_an_auction_is_priced_at_its_start_price() -> None:
    row = map_offer(1, published_offer(auction=True)).row
    assert (row["format"], row["price_value"], row["price_currency"]) == (
        "AUCTION",
        Decimal("24.99"),
        "USD",
    )


def test_an_unpublished_offer_has_no_listing_and_no_quantity() -> None:
    # Only a published offer has ``listing``; availableQuantity is optional in the contract.
    raw = published_offer()
    raw["status"] = "UNPUBLISHED"
    del raw["listing"], raw["availableQuantity"], raw["pricingSummary"]
    row = map_offer(1, raw).row
    assert row["status"] == "UNPUBLISHED"
    assert row["listing_id"] is None and row["listing_status"] is None
    assert row["available_quantity"] is None
    assert row["price_value"] is None and row["price_currency"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("offerId", None),
        ("offerId", ""),
        ("sku", None),
        ("availableQuantity", "3"),
        ("availableQuantity", True),
        ("pricingSummary", {"price": {"value": "abc", "currency": "USD"}}),
    ],
)
def test_an_offer_without_what_the_contract_promises_is_refused(field: str, value: object) -> None:
    raw = published_offer()
    raw[field] = value
    with pytest.raises(MalformedRecordError):
        map_offer(1, raw)
