"""Orders (Fulfillment ``Order``) and their line items."""

from __future__ import annotations

from typing import Any

from common.db.orders import LINE_ITEMS
from writer.domain import Mapped, parse_amount, parse_timestamp, required_str


def map_order(account_id: int, raw: dict[str, Any]) -> Mapped:
    """An eBay ``Order`` as its ``ebay_orders`` row and its ``ebay_order_line_items`` rows."""
    order_id = required_str(raw, "orderId")
    last_modified = parse_timestamp(raw.get("lastModifiedDate"), "lastModifiedDate")
    total_value, total_currency = parse_amount((raw.get("pricingSummary") or {}).get("total"))
    order = {
        "account_id": account_id,
        "order_id": order_id,
        "legacy_order_id": raw.get("legacyOrderId"),
        "creation_date": parse_timestamp(raw.get("creationDate"), "creationDate"),
        "last_modified_date": last_modified,
        "fulfillment_status": raw.get("orderFulfillmentStatus"),
        "payment_status": raw.get("orderPaymentStatus"),
        "cancel_state": (raw.get("cancelStatus") or {}).get("cancelState"),
        "buyer_username": (raw.get("buyer") or {}).get("username"),
        "total_value": total_value,
        "total_currency": total_currency,
        "payload": raw,
    }
    line_items = []
    for item in raw.get("lineItems") or []:
        cost, currency = parse_amount(item.get("lineItemCost"))
        quantity = item.get("quantity")
        line_items.append(
            {
                "account_id": account_id,
                "order_id": order_id,
                "line_item_id": required_str(item, "lineItemId"),
                "legacy_item_id": item.get("legacyItemId"),
                "sku": item.get("sku"),
                "title": item.get("title"),
                "quantity": quantity if isinstance(quantity, int) else None,
                "line_item_cost_value": cost,
                "currency": currency,
                "fulfillment_status": item.get("lineItemFulfillmentStatus"),
                "order_last_modified_date": last_modified,
                "payload": item,
            }
        )
    return Mapped(order, {LINE_ITEMS: line_items})
