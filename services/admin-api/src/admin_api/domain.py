"""Pure decisions of the admin API: token health and a worker's status light (the schedule
projection is the scheduler's own, in :mod:`common.scheduling`).

No I/O and no clock: callers pass ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from common.db.tokens import TokenStatusRow
from common.windows import WindowPolicy

# --- tokens ---------------------------------------------------------------------------------


class TokenHealth(StrEnum):
    HEALTHY = "healthy"
    EXPIRING_SOON = "expiring_soon"
    EXPIRED = "expired"
    ERROR = "error"
    NEEDS_REAUTH = "needs_reauth"


@dataclass(frozen=True)
class TokenVerdict:
    status: TokenHealth
    reason: str


def token_verdict(
    token: TokenStatusRow | None, needs_reauth: bool, now: datetime, soon: timedelta
) -> TokenVerdict:
    """Worst first: the seller must consent again, a refresh failed, consent ends soon, the
    access token lapsed (it is refreshed on next use), or all is well."""
    if token is None:
        return TokenVerdict(TokenHealth.NEEDS_REAUTH, "no tokens stored: connect the account")
    if needs_reauth:
        return TokenVerdict(TokenHealth.NEEDS_REAUTH, "eBay refused the refresh token: reconnect")
    if token.refresh_token_expires_at <= now:
        return TokenVerdict(TokenHealth.NEEDS_REAUTH, "the seller's consent expired: reconnect")
    if token.refresh_error:
        return TokenVerdict(TokenHealth.ERROR, f"last refresh failed: {token.refresh_error}")
    if token.refresh_token_expires_at - now <= soon:
        days = (token.refresh_token_expires_at - now).total_seconds() / 86400
        return TokenVerdict(
            TokenHealth.EXPIRING_SOON, f"consent ends in {days:.1f} days: reconnect soon"
        )
    if token.access_token_expires_at is None or token.access_token_expires_at <= now:
        return TokenVerdict(TokenHealth.EXPIRED, "access token lapsed; refreshed on next use")
    return TokenVerdict(TokenHealth.HEALTHY, "access token valid")


# --- workers --------------------------------------------------------------------------------


class Light(StrEnum):
    OK = "ok"
    RUNNING = "running"
    BEHIND = "behind"
    PAUSED = "paused"
    FAILING = "failing"
    DISABLED = "disabled"
    IDLE = "idle"


# Most urgent first: the order operators sort by.
SEVERITY = [
    Light.FAILING,
    Light.PAUSED,
    Light.BEHIND,
    Light.RUNNING,
    Light.IDLE,
    Light.DISABLED,
    Light.OK,
]


@dataclass(frozen=True)
class WorkerFacts:
    enabled: bool
    # Up to when its mirror is complete (common.lag.fresh_to); None: never synced.
    fresh_to: datetime | None
    paused_until: datetime | None
    last_error: str | None
    consecutive_failures: int
    last_run_status: str | None
    last_run_error: str | None
    run_open: bool
    pages_written: int
    pages_expected: int | None
    # Why the account cannot sync at all (inactive, needs reauth), if it cannot.
    account_blocked: str | None


@dataclass(frozen=True)
class WorkerVerdict:
    light: Light
    reason: str


def behind_after(policy: WindowPolicy) -> timedelta:
    """A caught-up pair's lag swings between the settle lag and settle lag + cadence; past
    two cadences (plus a minute for ticks) it is behind."""
    return policy.settle_lag + 2 * policy.cadence + timedelta(minutes=1)


def worker_verdict(facts: WorkerFacts, now: datetime, policy: WindowPolicy) -> WorkerVerdict:
    error = facts.last_error or facts.last_run_error
    if not facts.enabled:
        return WorkerVerdict(Light.DISABLED, "disabled by an operator")
    if facts.account_blocked:
        return WorkerVerdict(Light.FAILING, facts.account_blocked)
    if facts.paused_until is not None and facts.paused_until > now:
        why = f" after {facts.consecutive_failures} failures" if facts.consecutive_failures else ""
        detail = f": {error}" if error else ""
        return WorkerVerdict(
            Light.PAUSED, f"paused until {facts.paused_until:%Y-%m-%d %H:%M} UTC{why}{detail}"
        )
    if facts.run_open:
        of = f"/{facts.pages_expected}" if facts.pages_expected else ""
        retry = f" (retrying after: {error})" if error else ""
        return WorkerVerdict(Light.RUNNING, f"running, page {facts.pages_written}{of}{retry}")
    if facts.last_run_status == "failed" or facts.last_error:
        return WorkerVerdict(Light.FAILING, error or "the last run failed")
    if facts.fresh_to is None:
        return WorkerVerdict(Light.IDLE, "never synced: the first window is due")
    lag = now - facts.fresh_to
    if lag > behind_after(policy):
        return WorkerVerdict(Light.BEHIND, f"{format_age(lag)} behind")
    return WorkerVerdict(Light.OK, f"up to date ({format_age(lag)} behind)")


def format_age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
