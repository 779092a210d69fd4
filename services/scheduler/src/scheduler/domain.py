"""Pure scheduling decisions: which window each (account, family) pair should fetch next."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.db.sync import PairState
from common.families import Family
from common.messages import Trigger

# How far back each API lets a window reach (../shared/ebay-contracts/README.md §3, §7).
LOOKBACK_LIMITS: Mapping[Family, timedelta] = {
    Family.ORDERS: timedelta(days=730),
    Family.TRANSACTIONS: timedelta(days=5 * 365),
    Family.FINANCES: timedelta(days=5 * 365),
    Family.CASES: timedelta(days=540),
    Family.INQUIRIES: timedelta(days=540),
    Family.RETURNS: timedelta(days=540),
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


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PlannedWindow:
    account_id: int
    family: Family
    window: Window
    trigger: Trigger


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


def plan_pair(pair: PairState, now: datetime, policy: WindowPolicy) -> PlannedWindow | None:
    """The window to publish for one pair now, or None when it is not due."""
    if not pair.enabled or pair.in_flight:
        return None
    if pair.paused_until is not None and pair.paused_until > now:
        return None
    window = plan_window(pair.cursor, now, policy)
    if window is None:
        return None
    behind = window.end < now - policy.settle_lag
    # A caught-up pair waits for its cadence; one still behind goes again at once.
    if pair.cursor is not None and not behind and window.end - pair.cursor < policy.cadence:
        return None
    trigger = Trigger.CATCH_UP if behind or pair.cursor is None else Trigger.SCHEDULE
    return PlannedWindow(pair.account_id, pair.family, window, trigger)


def plan(
    pairs: Iterable[PairState], now: datetime, policies: Mapping[Family, WindowPolicy]
) -> list[PlannedWindow]:
    planned = (plan_pair(pair, now, policies[pair.family]) for pair in pairs)
    return [p for p in planned if p is not None]
