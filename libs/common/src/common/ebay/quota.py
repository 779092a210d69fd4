"""eBay's daily call quotas: the APIs that have one, and when they reset (fact sheet §6).

Apart from the ledger (``common.ledger``) so that ``common.families`` can name each family's
API without depending on the ledger. Quotas reset at midnight US Pacific time.

Trading answers a spent quota with error 518 and REST with 429 ``2001``; both quotas count per
calendar day in eBay's home time zone, so a spent quota is worth retrying only after the next
Pacific midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

QUOTA_ZONE = ZoneInfo("America/Los_Angeles")


def seconds_until_quota_reset(now: datetime) -> float:
    """Seconds from ``now`` (timezone-aware) to the next midnight in US Pacific time.

    Exactly at midnight the quota has just reset, so the next reset is a whole day away. Days on
    which the clocks change last 23 or 25 hours; the arithmetic is done in UTC so they count right.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_day = now.astimezone(QUOTA_ZONE).date()
    midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=QUOTA_ZONE)
    return (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds()


class EbayApi(StrEnum):
    """The APIs eBay keeps a daily quota for (names as in :class:`DailyQuotas`)."""

    FULFILLMENT = "fulfillment"
    PAYMENT_DISPUTE = "payment_dispute"
    FINANCES = "finances"
    INVENTORY = "inventory"
    TRADING = "trading"
    # Post-Order: one quota per resource (casemanagement, inquiry, return).
    POSTORDER_CASES = "postorder_cases"
    POSTORDER_INQUIRIES = "postorder_inquiries"
    POSTORDER_RETURNS = "postorder_returns"
    # Calls of APIs without a known quota (Identity, Key Management): counted, never limited.
    OTHER = "other"


# Path prefixes, most specific first: payment disputes have a quota of their own.
API_PATHS: tuple[tuple[str, EbayApi], ...] = (
    ("/sell/fulfillment/v1/payment_dispute", EbayApi.PAYMENT_DISPUTE),
    ("/sell/fulfillment/", EbayApi.FULFILLMENT),
    ("/sell/finances/", EbayApi.FINANCES),
    ("/sell/inventory/", EbayApi.INVENTORY),
    ("/ws/api.dll", EbayApi.TRADING),
    ("/post-order/v2/casemanagement", EbayApi.POSTORDER_CASES),
    ("/post-order/v2/inquiry", EbayApi.POSTORDER_INQUIRIES),
    ("/post-order/v2/return", EbayApi.POSTORDER_RETURNS),
)
