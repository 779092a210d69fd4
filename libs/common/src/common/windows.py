"""Window planning (DESIGN §3.4): pure, shared by the scheduler and the admin API's projection.

The scheduler plans the windows it publishes with :func:`plan_window`; the admin API uses the
same function for "run now" and to project a pair's schedule, so both always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.families import FAMILIES, Family

# How far back each API lets a window reach (``FamilySpec.lookback``); snapshots have none.
LOOKBACK_LIMITS: Mapping[Family, timedelta] = {
    family: spec.lookback for family, spec in FAMILIES.items() if spec.lookback is not None
}
DEFAULT_LOOKBACK = timedelta(days=730)


@dataclass(frozen=True)
class WindowPolicy:
    overlap: timedelta
    initial_backfill: timedelta
    lookback_limit: timedelta
    max_window: timedelta
    settle_lag: timedelta
    cadence: timedelta
    # A pair whose runs keep writing nothing backs off from the cadence up to this (the
    # family's worst staleness in the budget plan, common.budget); None: no backoff.
    backoff_limit: timedelta | None = None
    backoff_after: int = 2


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def plan_window(cursor: datetime | None, now: datetime, policy: WindowPolicy) -> Window | None:
    """The next window after ``cursor`` (DESIGN §3.4), or None when it would not move forward.

    ``from = cursor - overlap``, or ``now - initial_backfill`` without a cursor, never earlier
    than the API's lookback; ``to = min(now - settle_lag, from + max_window)``.
    """
    earliest = now - policy.lookback_limit
    start = now - policy.initial_backfill if cursor is None else cursor - policy.overlap
    start = max(start, earliest)
    end = min(now - policy.settle_lag, start + policy.max_window)
    if end <= start or (cursor is not None and end <= cursor):
        return None
    return Window(start=start, end=end)
