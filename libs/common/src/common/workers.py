"""A worker's status light: the one verdict on a pair that the admin UI and ``ebaysync status``
show, from the facts of its state, its newest run and its account.

No I/O and no clock: callers pass ``now``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from common.db.sync_tables import OPEN_RUN_STATUSES
from common.lag import fresh_to
from common.windows import WindowPolicy

# A queued or running run that has not moved for this long is reported as stuck.
STUCK_AFTER = timedelta(minutes=30)


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


class AccountState(Protocol):
    """What the verdict reads of an account: an ``EbayAccount`` row, or a status query's row."""

    @property
    def active(self) -> bool: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def needs_reauth(self) -> bool: ...


def account_blocked(account: AccountState) -> str | None:
    """Why an account cannot sync at all, if it cannot."""
    if not account.active:
        return "account deactivated"
    if account.revoked_at is not None:
        return (
            f"the seller revoked ebaysync's access at {account.revoked_at:%Y-%m-%d %H:%M} UTC "
            "(eBay's AUTHORIZATION_REVOCATION): reconnect the account"
        )
    if account.needs_reauth:
        return "eBay refused the refresh token: reconnect the account"
    return None


@dataclass(frozen=True)
class NewestRun:
    """What the verdict reads of a pair's newest run."""

    run_id: uuid.UUID
    status: str
    updated_at: datetime
    error: str | None
    pages_written: int
    pages_expected: int | None


def worker_facts(
    *,
    family: str,
    enabled: bool,
    cursor: datetime | None,
    last_success_at: datetime | None,
    paused_until: datetime | None,
    last_error: str | None,
    consecutive_failures: int,
    run: NewestRun | None,
    blocked: str | None,
    now: datetime,
) -> WorkerFacts:
    """The facts of a pair as stored; an open run that has not moved for ``STUCK_AFTER``
    counts as failed."""
    run_open = run is not None and run.status in OPEN_RUN_STATUSES
    stuck = run_open and run is not None and now - run.updated_at > STUCK_AFTER
    if stuck and run is not None:
        last_error = f"run {run.run_id} made no progress since {run.updated_at:%Y-%m-%d %H:%M} UTC"
    return WorkerFacts(
        enabled=enabled,
        fresh_to=fresh_to(family, cursor, last_success_at),
        paused_until=paused_until,
        last_error=last_error,
        consecutive_failures=consecutive_failures,
        last_run_status="failed" if stuck else (run.status if run else None),
        last_run_error=run.error if run else None,
        run_open=run_open and not stuck,
        pages_written=run.pages_written if run else 0,
        pages_expected=run.pages_expected if run else None,
        account_blocked=blocked,
    )
