"""Pure scheduling decisions: which window each (account, family) pair should fetch next.

The rules live in :mod:`common.scheduling`, their one home, so the admin API's "run now" and
Schedule panel use exactly the scheduler's; this module names them for the scheduler.
"""

from __future__ import annotations

from common.scheduling import PlannedWindow, next_due_at, plan, plan_pair
from common.windows import DEFAULT_LOOKBACK, LOOKBACK_LIMITS, Window, WindowPolicy, plan_window

__all__ = [
    "DEFAULT_LOOKBACK",
    "LOOKBACK_LIMITS",
    "PlannedWindow",
    "Window",
    "WindowPolicy",
    "next_due_at",
    "plan",
    "plan_pair",
    "plan_window",
]
