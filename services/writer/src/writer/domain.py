"""Pure mappings from raw eBay objects to table rows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class MalformedRecordError(ValueError):
    """An eBay object lacks what its contract promises (an id, a date)."""


def parse_timestamp(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedRecordError(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedRecordError(f"{field} is not an ISO-8601 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        raise MalformedRecordError(f"{field} has no time zone: {value!r}")
    return parsed


def parse_amount(amount: object) -> tuple[Decimal | None, str | None]:
    """eBay's Amount ``{"value": "12.50", "currency": "USD"}`` as a decimal and a currency."""
    if not isinstance(amount, dict):
        return None, None
    try:
        value = Decimal(str(amount["value"])) if amount.get("value") is not None else None
    except InvalidOperation as exc:
        raise MalformedRecordError(f"amount value {amount.get('value')!r} is not a number") from exc
    currency = amount.get("currency")
    return value, currency if isinstance(currency, str) else None


def _required_str(raw: dict[str, Any], field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedRecordError(f"{field} is missing")
    return value


def map_order(account_id: int, raw: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An eBay ``Order`` as its ``ebay_orders`` row and its ``ebay_order_line_items`` rows."""
    order_id = _required_str(raw, "orderId")
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
                "line_item_id": _required_str(item, "lineItemId"),
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
    return order, line_items
