"""What every mapping from raw eBay objects to table rows shares: parsing and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from common.db.upsert import UpsertSpec


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


def required_str(raw: dict[str, Any], field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedRecordError(f"{field} is missing")
    return value


Row = dict[str, Any]


@dataclass(frozen=True)
class Mapped:
    """One raw eBay object as its family table's row, and rows of child tables if any."""

    row: Row
    children: dict[UpsertSpec, list[Row]] = field(default_factory=dict)
