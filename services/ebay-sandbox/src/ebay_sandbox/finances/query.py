"""Finances filters: ``transactionDate``/``payoutDate`` ranges and ``{a|b}`` value sets."""

from dataclasses import dataclass, field

from ebay_sandbox.clock import DAY
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.paging import parse_timestamp

DOMAIN = "API_FINANCES"
LOOKBACK_MS = 5 * 365 * DAY + DAY  # five years (with a leap day)
MAX_RANGE_MS = 3 * 365 * DAY + DAY  # 36 months
TRANSACTION_TYPES = frozenset(
    {
        "SALE",
        "REFUND",
        "CREDIT",
        "DISPUTE",
        "SHIPPING_LABEL",
        "TRANSFER",
        "NON_SALE_CHARGE",
        "ADJUSTMENT",
        "WITHDRAWAL",
        "LOAN_REPAYMENT",
        "PURCHASE",
    }
)
TRANSACTION_STATUSES = frozenset(
    {
        "FUNDS_ON_HOLD",
        "FUNDS_PROCESSING",
        "FUNDS_AVAILABLE_FOR_PAYOUT",
        "PAYOUT",
        "COMPLETED",
        "FAILED",
    }
)
PAYOUT_STATUSES = frozenset(
    {"INITIATED", "SUCCEEDED", "REVERSED", "RETRYABLE_FAILED", "TERMINAL_FAILED"}
)


def bad_request(error_id: int, message: str, **parameters: str) -> EbayApiError:
    """400 in the API_FINANCES domain."""
    return EbayApiError(
        400, [error_entry(error_id, DOMAIN, "REQUEST", message, message, parameters)]
    )


@dataclass
class FinanceFilter:
    """Parsed ``filter`` parameters (repeatable and comma separated)."""

    low_ms: int
    high_ms: int
    sets: dict[str, frozenset[str]] = field(default_factory=dict)
    dated: bool = False


def criteria(raw_filters: list[str]) -> list[tuple[str, str]]:
    """``name:value`` pairs of every ``filter`` parameter (commas split criteria)."""
    found = []
    for raw in raw_filters:
        for part in raw.split(","):
            if part.strip():
                name, _, value = part.strip().partition(":")
                found.append((name, value))
    return found


def parse_range(
    value: str, now_ms: int, *, invalid: int, too_old: int, too_long: int, name: str
) -> tuple[int, int]:
    """A ``[A..B]`` range, inclusive; either end may be open."""
    if not (value.startswith("[") and value.endswith("]")) or ".." not in value:
        raise bad_request(invalid, f"The value of {name} filter is invalid.", filter=name)
    start_text, _, end_text = value[1:-1].partition("..")
    try:
        start = parse_timestamp(start_text, round_up=True) if start_text else now_ms - LOOKBACK_MS
        end = parse_timestamp(end_text) if end_text else now_ms
    except ValueError as exc:
        raise bad_request(invalid, f"The value of {name} filter is invalid.", filter=name) from exc
    if start > end:
        raise bad_request(invalid, f"The value of {name} filter is invalid.", filter=name)
    if start < now_ms - LOOKBACK_MS:
        raise bad_request(
            too_old,
            "The supplied start date is invalid, as records older than five years cannot be "
            "retrieved. Please update the start date and resubmit the request.",
            filter=name,
        )
    if end - start > MAX_RANGE_MS:
        raise bad_request(
            too_long,
            "The supplied date range is invalid, as the date range cannot exceed 36 months. "
            "Please update the date range and resubmit the request.",
            filter=name,
        )
    return start, min(end, now_ms)


def value_set(value: str) -> frozenset[str] | None:
    """``{A|B}`` -> {A, B}; None when malformed."""
    if not (value.startswith("{") and value.endswith("}")) or len(value) < 3:
        return None
    return frozenset(v.strip() for v in value[1:-1].split("|") if v.strip())
