"""When eBay's daily call quotas reset: midnight US Pacific time (fact sheet §6).

Trading answers a spent quota with error 518 and REST with 429 ``2001``; both quotas count per
calendar day in eBay's home time zone, so a spent quota is worth retrying only after the next
Pacific midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
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
