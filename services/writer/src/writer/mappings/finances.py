"""Finances ``Transaction`` and ``Payout`` objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from writer.domain import Mapped, parse_amount, parse_timestamp, required_str


def map_transaction(account_id: int, raw: dict[str, Any]) -> Mapped:
    """An eBay ``Transaction`` as its ``ebay_transactions`` row."""
    amount, currency = parse_amount(raw.get("amount"))
    total_fee, total_fee_currency = parse_amount(raw.get("totalFeeAmount"))
    return Mapped(
        {
            "account_id": account_id,
            "transaction_id": required_str(raw, "transactionId"),
            "transaction_type": required_str(raw, "transactionType"),
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
        }
    )


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
