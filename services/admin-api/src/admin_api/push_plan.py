"""Which subscriptions an account or the application needs, and what to do about each one
that eBay reports: pure decisions for :mod:`admin_api.push_subscriptions` (docs/adr/0018).
The topics themselves are the one table in :mod:`common.push`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from common.families import Family
from common.push import (
    REST_TOPICS,
    TRADING_EVENTS,
    TRADING_TOPIC,
    TopicScope,
    missing_push_scopes,
    unavailable_reason,
)

REST = "rest"
TRADING = "trading"
# Statuses of ours beside eBay's ENABLED / DISABLED.
UNAVAILABLE = "UNAVAILABLE"
FAILED = "FAILED"
ENABLED = "ENABLED"


@dataclass(frozen=True)
class Wanted:
    """One subscription: REST topic or the seller's Trading events; ``unavailable`` is the
    reason shown when the consent lacks the topic's scope (nothing is created then)."""

    api: str
    topic: str
    family: Family | None
    schema_version: str = "1.0"
    unavailable: str | None = None


def account_topics(granted: str) -> list[Wanted]:
    """What a connected seller's consent (space-separated scopes) can and cannot subscribe."""
    missing = missing_push_scopes(granted)
    wanted = [
        Wanted(
            REST,
            t.name,
            t.family,
            t.schema_version,
            unavailable_reason(t.family) if t.name in missing else None,
        )
        for t in REST_TOPICS.values()
        if t.scope is TopicScope.USER
    ]
    # Trading Platform Notifications take any user token (base scope).
    wanted.append(Wanted(TRADING, TRADING_TOPIC, None))
    return wanted


def application_topics() -> list[Wanted]:
    """Topics subscribed once per application, with an application token."""
    return [
        Wanted(REST, t.name, t.family, t.schema_version)
        for t in REST_TOPICS.values()
        if t.scope is TopicScope.APPLICATION
    ]


def trading_events() -> list[str]:
    return list(TRADING_EVENTS)


class Step(StrEnum):
    CREATE = "create"  # nothing at eBay yet
    RECREATE = "recreate"  # eBay no longer has it: a repair
    ENABLE = "enable"  # eBay reports it disabled: a repair
    KEEP = "keep"
    DELETE = "delete"  # no longer wanted (account gone, scope withdrawn)
    NOTHING = "nothing"


def next_step(wanted: bool, ebay_id: str | None, remote_status: str | None) -> Step:
    """``remote_status``: what eBay answers for ``ebay_id`` (None: it does not have it)."""
    if not wanted:
        return Step.DELETE if ebay_id else Step.NOTHING
    if not ebay_id:
        return Step.CREATE
    if remote_status is None:
        return Step.RECREATE
    if remote_status != ENABLED:
        return Step.ENABLE
    return Step.KEEP


@dataclass(frozen=True)
class Kept:
    """What ``push_subscriptions`` holds of one of a seller's subscriptions."""

    status: str
    destination_id: str | None
    checked_at: datetime


def seller_current(
    wanted: Sequence[Wanted],
    kept: Mapping[tuple[str, str], Kept],
    destination_id: str | None,
    now: datetime,
    recheck: timedelta,
) -> bool:
    """Whether a seller's subscriptions need no call this run: each one wanted is kept as wanted
    (enabled, or unavailable for the same missing scope), a REST one on today's destination, and
    eBay confirmed it within ``recheck``. Checking is several eBay calls per seller (a Trading
    one among them, on the tightest quota), so it is spent once per recheck, not once per run;
    a new seller, a changed consent, a failure or a new destination is handled at the next run."""
    for want in wanted:
        row = kept.get((want.api, want.topic))
        if row is None or now - row.checked_at >= recheck:
            return False
        if row.status != (UNAVAILABLE if want.unavailable else ENABLED):
            return False
        if want.api == REST and row.status == ENABLED and row.destination_id != destination_id:
            return False
    return True


def missing_events(enabled: dict[str, str]) -> list[str]:
    """The Trading events GetNotificationPreferences does not report enabled."""
    return [e for e in TRADING_EVENTS if enabled.get(e) != "Enable"]


def unavailable_families(rows: Sequence[tuple[str, str | None]]) -> list[str]:
    """The reasons to show for an account, once per family: from (status, detail) rows."""
    return sorted({d for s, d in rows if s == UNAVAILABLE and d})
