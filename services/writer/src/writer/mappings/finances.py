"""Finances ``Transaction`` and ``Payout`` objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.db.finances import TRANSACTION_FEES
from writer.domain import (
    MalformedRecordError,
    Mapped,
    Row,
    parse_amount,
    parse_timestamp,
    required_str,
)


def map_transaction(account_id: int, raw: dict[str, Any]) -> Mapped:
    """An eBay ``Transaction`` as its ``ebay_transactions`` row and its fees' rows."""
    amount, currency = parse_amount(raw.get("amount"))
    total_fee, total_fee_currency = parse_amount(raw.get("totalFeeAmount"))
    transaction = (
        account_id,
        required_str(raw, "transactionId"),
        required_str(raw, "transactionType"),
    )
    return Mapped(
        {
            "account_id": account_id,
            "transaction_id": transaction[1],
            "transaction_type": transaction[2],
            "transaction_status": raw.get("transactionStatus"),
            "transaction_date": parse_timestamp(raw.get("transactionDate"), "transactionDate"),
            "order_id": raw.get("orderId"),
            "payout_id": raw.get("payoutId"),
            "amount_value": amount,
            "amount_currency": currency,
            "booking_entry": raw.get("bookingEntry"),
            "fee_type": raw.get("feeType"),
            "total_fee_value": total_fee,
            "total_fee_currency": total_fee_currency,
            "buyer_username": (raw.get("buyer") or {}).get("username"),
            "payload": raw,
        },
        {TRANSACTION_FEES: _fees(transaction, raw)},
    )


def _fees(transaction: tuple[int, str, str], raw: dict[str, Any]) -> list[Row]:
    """One row per (line item, fee type); the same type twice on a line item is summed."""
    account_id, transaction_id, transaction_type = transaction
    rows: dict[tuple[str, str], Row] = {}
    for line in raw.get("orderLineItems") or []:
        line_item_id = required_str(line, "lineItemId")
        for fee in line.get("marketplaceFees") or []:
            fee_type = required_str(fee, "feeType")
            value, currency = parse_amount(fee.get("amount"))
            row = rows.get((line_item_id, fee_type))
            if row is None:
                rows[(line_item_id, fee_type)] = {
                    "account_id": account_id,
                    "transaction_id": transaction_id,
                    "transaction_type": transaction_type,
                    "line_item_id": line_item_id,
                    "fee_type": fee_type,
                    "amount_value": value,
                    "amount_currency": currency,
                    "payload": fee,
                }
                continue
            if currency != row["amount_currency"]:
                raise MalformedRecordError(
                    f"{fee_type} of line item {line_item_id} in two currencies"
                )
            parts = row["payload"].get("parts") or [row["payload"]]
            row["payload"] = {"feeType": fee_type, "parts": [*parts, fee]}
            if value is not None:
                row["amount_value"] = (row["amount_value"] or 0) + value
    return list(rows.values())


def map_payout(account_id: int, raw: dict[str, Any]) -> Mapped:
    """An eBay ``Payout`` as its ``ebay_payouts`` row."""
    amount, currency = parse_amount(raw.get("amount"))
    count = raw.get("transactionCount")
    return Mapped(
        {
            "account_id": account_id,
            "payout_id": required_str(raw, "payoutId"),
            "payout_status": raw.get("payoutStatus"),
            # The window filters on it, so a payout without one could never have been fetched.
            "payout_date": parse_timestamp(raw.get("payoutDate"), "payoutDate"),
            "amount_value": amount,
            "amount_currency": currency,
            "last_attempted_payout_date": _optional_timestamp(raw, "lastAttemptedPayoutDate"),
            "transaction_count": count if isinstance(count, int) else None,
            "payload": raw,
        }
    )


def _optional_timestamp(raw: dict[str, Any], field: str) -> datetime | None:
    value = raw.get(field)
    return None if value is None else parse_timestamp(value, field)
