"""eBay objects shaped like the Fulfillment contract, for tests that need raw input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def ebay_time(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def make_order(
    order_id: str,
    *,
    modified: datetime,
    created: datetime | None = None,
    status: str = "NOT_STARTED",
    total: str = "25.00",
    line_items: int = 1,
    **fields: Any,
) -> dict[str, Any]:
    """An order; ``fields`` replace or add top-level fields (``orderPaymentStatus="PENDING"``)."""
    created = created or modified
    order = {
        "orderId": order_id,
        "legacyOrderId": f"{order_id}-legacy",
        "creationDate": ebay_time(created),
        "lastModifiedDate": ebay_time(modified),
        "orderFulfillmentStatus": status,
        "orderPaymentStatus": "PAID",
        "sellerId": "seller",
        "buyer": {"username": "buyer_1"},
        "pricingSummary": {"total": {"value": total, "currency": "USD"}},
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "lineItems": [
            {
                "lineItemId": f"{order_id}-L{i}",
                "legacyItemId": f"11{i}",
                "sku": f"SKU-{i}",
                "title": f"Thing {i}",
                "quantity": 1,
                "lineItemCost": {"value": total, "currency": "USD"},
                "lineItemFulfillmentStatus": status,
            }
            for i in range(line_items)
        ],
    }
    return order | fields
