"""Sign-in throttling decisions: pure, no I/O (the counts live in the ``login_throttle``
table, shared by every replica).

Failures are counted per email and per client address in fixed windows; while either count
is at its limit, every attempt under that key is refused, the right password included, until
its window ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from common.db.admin import FailureCount


def email_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


def address_key(address: str) -> str:
    return f"addr:{address}"


def retry_after(
    counts: Sequence[FailureCount], limits: Mapping[str, int], now: datetime, window: timedelta
) -> int | None:
    """Seconds until an attempt may be made again, or None when none of the keys is at its
    limit in its current window."""
    waits = [
        (count.window_started_at + window - now).total_seconds()
        for count in counts
        if count.key in limits
        and count.window_started_at + window > now
        and count.failures >= limits[count.key]
    ]
    return max(1, math.ceil(max(waits))) if waits else None
