"""Which quota the planner plans with, per API: eBay's reading (Developer Analytics
``getRateLimits``) when it is plausible, else the configured one; every fallback is a note.

Bad input never stops syncing: a configured quota of 0 or less falls back to the fact sheet's
default (§6), a reading that is stale, from a clock far off, or nonsense (a limit of 0, more
remaining than the limit) is ignored in favour of the configured quotas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel

from common.budget.model import QuotaSource
from common.ebay.quota import EbayApi
from common.ledger import DailyQuotas

# A reading older than this describes another quota day.
MAX_READING_AGE = timedelta(hours=26)
# eBay's reset and ours (midnight US Pacific) further apart than this: one of the clocks is
# off, or the reading is nonsense.
MAX_RESET_SKEW = timedelta(hours=1)
# A reading taken "later than now" by more than this: this machine's clock is behind.
MAX_FUTURE = timedelta(minutes=5)


class QuotaReading(BaseModel):
    """One API's daily limit as eBay reports it (``rateLimits[].resources[].rates[]`` with
    ``timeWindow`` 86400, mapped to the ledger's API names)."""

    api: EbayApi
    limit: int
    remaining: int | None = None
    reset: datetime | None = None
    read_at: datetime


@dataclass
class ResolvedQuotas:
    limits: dict[EbayApi, int] = field(default_factory=dict)
    # Calls eBay counts as used today (limit - remaining), where the reading says.
    used: dict[EbayApi, int] = field(default_factory=dict)
    source: QuotaSource = "configured"


def configured_quotas(configured: DailyQuotas, notes: list[str]) -> dict[EbayApi, int]:
    defaults = DailyQuotas()
    limits: dict[EbayApi, int] = {}
    for api in EbayApi:
        if api is EbayApi.OTHER:
            continue
        value = getattr(configured, api.value)
        if value <= 0:
            fallback = getattr(defaults, api.value)
            notes.append(f"{api.value}: configured quota {value} is no quota; using {fallback}")
            value = fallback
        limits[api] = value
    return limits


def resolve_quotas(
    configured: DailyQuotas,
    reading: Sequence[QuotaReading] | None,
    now: datetime,
    resets_at: datetime,
    notes: list[str],
) -> ResolvedQuotas:
    resolved = ResolvedQuotas(limits=configured_quotas(configured, notes))
    if not reading:
        return resolved
    problem = _reading_problem(reading, now, resets_at)
    if problem:
        notes.append(f"getRateLimits reading ignored ({problem}); using the configured quotas")
        return resolved
    for rate in reading:
        if rate.api not in resolved.limits:
            continue
        if rate.limit <= 0 or (
            rate.remaining is not None and not 0 <= rate.remaining <= rate.limit
        ):
            notes.append(
                f"{rate.api.value}: getRateLimits says limit {rate.limit}, remaining "
                f"{rate.remaining}; using the configured quota"
            )
            continue
        resolved.limits[rate.api] = rate.limit
        if rate.remaining is not None:
            resolved.used[rate.api] = rate.limit - rate.remaining
        resolved.source = "getRateLimits"
    return resolved


def _reading_problem(
    reading: Sequence[QuotaReading], now: datetime, resets_at: datetime
) -> str | None:
    for rate in reading:
        if rate.read_at > now + MAX_FUTURE:
            return f"taken at {rate.read_at.isoformat()}, after now: this clock is behind"
        if rate.read_at < now - MAX_READING_AGE:
            return f"taken at {rate.read_at.isoformat()}: stale"
        if rate.reset is not None and abs(rate.reset - resets_at) > MAX_RESET_SKEW:
            return (
                f"eBay resets at {rate.reset.isoformat()}, midnight Pacific is "
                f"{resets_at.isoformat()}: a clock is far off"
            )
    return None
