"""Trading API records (converted by ``common.ebay.xml``): messages, active listings, purchases.

Every Trading value arrives as a string; amounts as ``{"@currencyID": "USD", "#text": "19.99"}``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from common.ebay.trading import ARCHIVE_FOLDER_NAME
from common.ebay.xml import path_value
from writer.domain import MalformedRecordError, Mapped, parse_timestamp, required_str


def text_at(raw: dict[str, Any], *path: str) -> str | None:
    """The text at ``path``, or None when absent or not a text element."""
    value = path_value(raw, *path)
    return value if isinstance(value, str) else None


def int_at(raw: dict[str, Any], *path: str) -> int | None:
    value = text_at(raw, *path)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def bool_at(raw: dict[str, Any], *path: str) -> bool | None:
    value = text_at(raw, *path)
    return {"true": True, "false": False}.get(value.lower()) if value is not None else None


def timestamp_at(raw: dict[str, Any], *path: str) -> datetime | None:
    """A Trading ``dateTime`` (``2026-03-01T08:00:00.000Z``), or None when absent."""
    value = text_at(raw, *path)
    return parse_timestamp(value, "/".join(path)) if value is not None else None


def trading_amount(raw: dict[str, Any], *path: str) -> tuple[Decimal | None, str | None]:
    """A Trading ``AmountType`` as a decimal and its currency."""
    amount = path_value(raw, *path)
    if not isinstance(amount, dict):
        return None, None
    value, currency = amount.get("#text"), amount.get("@currencyID")
    try:
        parsed = Decimal(value) if isinstance(value, str) and value else None
    except InvalidOperation as exc:
        raise MalformedRecordError(f"{'/'.join(path)} {value!r} is not a number") from exc
    return parsed, currency if isinstance(currency, str) else None


def map_message(account_id: int, raw: dict[str, Any]) -> Mapped:
    """A GetMyMessages ``Message`` (ReturnMessages) as its ``ebay_messages`` row."""
    return Mapped(
        {
            "account_id": account_id,
            "message_id": required_str(raw, "MessageID"),
            "sender": text_at(raw, "Sender"),
            "recipient": text_at(raw, "RecipientUserID"),
            "subject": text_at(raw, "Subject"),
            "receive_date": timestamp_at(raw, "ReceiveDate"),
            "folder_id": int_at(raw, "Folder", "FolderID"),
            "is_read": bool_at(raw, "Read"),
            "flagged": bool_at(raw, "Flagged"),
            "replied": bool_at(raw, "Replied"),
            "archived": text_at(raw, "Folder", "FolderName") == ARCHIVE_FOLDER_NAME,
            "item_id": text_at(raw, "ItemID"),
            "payload": raw,
        }
    )


def map_active_listing(account_id: int, raw: dict[str, Any]) -> Mapped:
    """A GetMyeBaySelling ActiveList ``Item`` as its ``ebay_active_listings`` row."""
    price, currency = trading_amount(raw, "SellingStatus", "CurrentPrice")
    return Mapped(
        {
            "account_id": account_id,
            "item_id": required_str(raw, "ItemID"),
            "sku": text_at(raw, "SKU"),
            "title": text_at(raw, "Title"),
            "listing_type": text_at(raw, "ListingType"),
            "quantity": int_at(raw, "Quantity"),
            "quantity_available": int_at(raw, "QuantityAvailable"),
            "current_price_value": price,
            "current_price_currency": currency,
            "start_time": timestamp_at(raw, "ListingDetails", "StartTime"),
            "payload": raw,
        }
    )


def map_purchase(account_id: int, raw: dict[str, Any]) -> Mapped:
    """A GetMyeBayBuying WonList ``OrderTransaction`` as its ``ebay_purchases`` row.

    The row is the OrderTransaction's ``Transaction`` (one line item). ``order_id`` comes from
    the transaction's ``ContainingOrder`` when eBay sends one.
    """
    transaction = raw.get("Transaction")
    if not isinstance(transaction, dict):
        raise MalformedRecordError("OrderTransaction without a Transaction")
    price, currency = trading_amount(transaction, "TransactionPrice")
    return Mapped(
        {
            "account_id": account_id,
            "order_line_item_id": required_str(transaction, "OrderLineItemID"),
            "order_id": text_at(transaction, "ContainingOrder", "OrderID"),
            "item_id": text_at(transaction, "Item", "ItemID"),
            "transaction_id": text_at(transaction, "TransactionID"),
            "seller_user_id": text_at(transaction, "Item", "Seller", "UserID"),
            "title": text_at(transaction, "Item", "Title"),
            "quantity": int_at(transaction, "QuantityPurchased"),
            "price_value": price,
            "price_currency": currency,
            "created_date": timestamp_at(transaction, "CreatedDate"),
            "payload": raw,
        }
    )
