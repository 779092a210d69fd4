"""Pure scheduling decisions: which window each (account, family) pair should fetch next."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from common.db.sync import PairState
from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import Trigger

# The planner lives in common so the admin API's "run now" and projection use the same one.
from common.windows import (
    DEFAULT_LOOKBACK,
    LOOKBACK_LIMITS,
    Window,
    WindowPolicy,
    plan_window,
)

__all__ = [
    "DEFAULT_LOOKBACK",
    "LOOKBACK_LIMITS",
    "PlannedWindow",
    "Window",
    "WindowPolicy",
    "plan",
    "plan_pair",
    "plan_window",
]


@dataclass(frozen=True)
class PlannedWindow:
    account_id: int
    family: Family
    # None for a snapshot family: it enumerates everything, up to the moment it runs.
    window: Window | None
    trigger: Trigger


def plan_pair(pair: PairState, now: datetime, policy: WindowPolicy) -> PlannedWindow | None:
    """The window to publish for one pair now, or None when it is not due."""
    if not pair.enabled or pair.in_flight:
        return None
    if pair.paused_until is not None and pair.paused_until > now:
        return None
    if pair.family in SNAPSHOT_FAMILIES:
        # A snapshot's cursor is the moment (in the scheduler's time) it was taken as of.
        if pair.cursor is not None and now - pair.cursor < policy.cadence:
            return None
        trigger = Trigger.SCHEDULE if pair.cursor is not None else Trigger.CATCH_UP
        return PlannedWindow(pair.account_id, pair.family, None, trigger)
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
