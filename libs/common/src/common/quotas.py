"""Which daily quotas the budget plans with: eBay's reading (Developer Analytics getRateLimits,
stored daily by the token service) where it is sound, the configured ones (:class:`DailyQuotas`)
where it is not — and a note saying which and why.

Pure: the reading comes in as stored, the decision goes out. A reading is set aside, per API,
when its limit is missing, zero, negative, not an integer or absurd, when it is not a daily
window, when the read failed or is older than a day and a half, and as a whole when eBay's reset
time is far from the local clock (one of the two clocks is wrong, so neither "today" is sure).
A quota of 0 from eBay would stop every call; a misread must never do that, so the configured
figure stands in and the operator is told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from common.ebay.quota import seconds_until_quota_reset
from common.ledger import DailyQuotas, EbayApi

DAY_SECONDS = 86_400
# A limit above this is no reading of eBay's (the largest documented quota is 2,000,000).
MAX_PLAUSIBLE_LIMIT = 1_000_000_000
# Readings are taken daily; one older than this is from before yesterday's reset.
MAX_AGE = timedelta(hours=36)
# eBay's reset and the next Pacific midnight by the local clock may differ by this much.
CLOCK_TOLERANCE = timedelta(minutes=30)
# The Trading calls the families make: eBay limits Trading per call, the ledger counts Trading
# as one pool, so the smallest of these limits is the pool's (on the safe side).
TRADING_CALLS = ("GetMyMessages", "GetMyeBaySelling", "GetMyeBayBuying")
# Post-Order resources the families search (eBay limits each apart).
POSTORDER_RESOURCES = ("casemanagement", "inquiry", "return")


class QuotaSource(StrEnum):
    EBAY = "ebay"  # every API's quota read from getRateLimits
    MIXED = "mixed"  # some read, some configured (see the notes)
    CONFIGURED = "configured"  # none read: the configured quotas


class ApiQuota(BaseModel):
    """One API's quota for the day and where it came from."""

    api: str
    quota: int
    from_ebay: bool
    # eBay's own count of today's calls, when read (the ledger counts ours).
    used_by_ebay: int | None = None


class QuotaReading(BaseModel):
    """The quotas to plan with (one per ledger API) and why they are what they are."""

    source: QuotaSource
    apis: list[ApiQuota]
    # Post-Order's limit per resource as eBay reports it (its ``postorder`` quota is the least).
    postorder_resources: dict[str, int] = Field(default_factory=dict)
    read_at: datetime | None = None
    resets_at: datetime | None = None
    notes: list[str] = Field(default_factory=list)

    def quotas(self) -> DailyQuotas:
        """The figures as :class:`DailyQuotas` (the planner's and the ledger's shape)."""
        return DailyQuotas(**{a.api: a.quota for a in self.apis})


@dataclass(frozen=True)
class StoredReading:
    """What the token service stored: the raw ``rateLimits`` array, or why there is none."""

    read_at: datetime
    ok: bool
    rate_limits: Sequence[Any]
    detail: str | None = None


@dataclass(frozen=True)
class _Rate:
    limit: int
    count: int | None
    reset: datetime | None


def _int(value: object) -> int | None:
    # bool is an int in Python; eBay's "true" is no limit.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reset(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _pool(api_name: str, resource: str) -> EbayApi | None:
    """The ledger API a getRateLimits resource counts for (names compared case-blind)."""
    api, name = api_name.casefold(), resource.casefold()
    if api == "fulfillment":
        return EbayApi.PAYMENT_DISPUTE if "payment_dispute" in name else EbayApi.FULFILLMENT
    if api == "tradingapi":
        return EbayApi.TRADING if resource in TRADING_CALLS else None
    if api in ("postorder", "post-order"):
        return EbayApi.POSTORDER if name in POSTORDER_RESOURCES else None
    return {"finances": EbayApi.FINANCES, "inventory": EbayApi.INVENTORY}.get(api)


def _daily_rates(rate_limits: Sequence[Any]) -> tuple[dict[EbayApi, list[_Rate]], dict[str, int]]:
    """Each ledger API's daily rates; the per-resource Post-Order limits apart. Entries that
    are not the contract's shape are skipped (they count as missing)."""
    found: dict[EbayApi, list[_Rate]] = {}
    resources: dict[str, int] = {}
    for api in rate_limits:
        if not isinstance(api, Mapping) or not isinstance(api.get("apiName"), str):
            continue
        for resource in api.get("resources") or ():
            if not isinstance(resource, Mapping) or not isinstance(resource.get("name"), str):
                continue
            pool = _pool(api["apiName"], resource["name"])
            for rate in resource.get("rates") or ():
                if pool is None or not isinstance(rate, Mapping):
                    continue
                if _int(rate.get("timeWindow")) != DAY_SECONDS:
                    continue  # per-user or short windows are not the daily quota
                limit = _int(rate.get("limit"))
                entry = _Rate(
                    limit if limit is not None else -1,
                    _int(rate.get("count")),
                    _reset(rate.get("reset")),
                )
                found.setdefault(pool, []).append(entry)
                if pool is EbayApi.POSTORDER and limit is not None:
                    resources[resource["name"].casefold()] = limit
    return found, resources


def _problem(rates: list[_Rate]) -> str | None:
    if not rates:
        return "missing from the reading"
    worst = min(r.limit for r in rates)
    if worst < 0:
        return "a limit that is missing, negative or not a number"
    if worst == 0:
        return "a limit of 0"
    if max(r.limit for r in rates) > MAX_PLAUSIBLE_LIMIT:
        return "an implausible limit"
    return None


def _configured(configured: DailyQuotas, notes: list[str]) -> QuotaReading:
    apis = [ApiQuota(api=api, quota=q, from_ebay=False) for api, q in configured]
    return QuotaReading(source=QuotaSource.CONFIGURED, apis=apis, notes=notes)


def plan_quotas(
    stored: StoredReading | None, configured: DailyQuotas, now: datetime
) -> QuotaReading:
    """The quotas to plan with at ``now``: eBay's where sound, else configured (see module)."""
    if stored is None:
        return _configured(configured, ["no getRateLimits reading yet: configured quotas"])
    if not stored.ok:
        why = stored.detail or "failed"
        return _configured(configured, [f"getRateLimits failed ({why}): configured quotas"])
    age = now - stored.read_at
    if age > MAX_AGE or age < -CLOCK_TOLERANCE:
        hours = age.total_seconds() / 3600
        note = f"the getRateLimits reading is {hours:.0f} h old: configured quotas"
        return _configured(configured, [note])
    rates, resources = _daily_rates(stored.rate_limits)
    expected = now + timedelta(seconds=seconds_until_quota_reset(now))
    resets = sorted({r.reset for rs in rates.values() for r in rs if r.reset is not None})
    # Resets read before now belong to a window that has ended since: not a clock problem.
    future = [r for r in resets if r > now]
    if future and abs(future[0] - expected) > CLOCK_TOLERANCE:
        note = (
            f"eBay's quota reset {future[0].isoformat()} is far from the local clock's "
            f"{expected.isoformat()}: configured quotas (check the clock)"
        )
        return _configured(configured, [note])
    if resets and not future:
        note = "the getRateLimits reading is from before the last reset: configured quotas"
        return _configured(configured, [note])
    apis: list[ApiQuota] = []
    notes: list[str] = []
    for api, fallback in configured:
        problem = _problem(rates.get(EbayApi(api), []))
        if problem is not None:
            notes.append(f"{api}: {problem}; configured quota {fallback:,} used")
            apis.append(ApiQuota(api=api, quota=fallback, from_ebay=False))
            continue
        read = rates[EbayApi(api)]
        counts = [r.count for r in read if r.count is not None]
        used = max(counts) if counts else None
        apis.append(
            ApiQuota(api=api, quota=min(r.limit for r in read), from_ebay=True, used_by_ebay=used)
        )
    taken = sum(a.from_ebay for a in apis)
    source = (
        QuotaSource.EBAY
        if taken == len(apis)
        else QuotaSource.CONFIGURED
        if taken == 0
        else QuotaSource.MIXED
    )
    return QuotaReading(
        source=source,
        apis=apis,
        postorder_resources=resources,
        read_at=stored.read_at,
        resets_at=future[0] if future else None,
        notes=notes,
    )


class RateRow(BaseModel):
    """One rate of a stored reading, flattened for display; what is not the contract's type
    shows as None (the reading is shown as read, nonsense included)."""

    api_context: str | None
    api_name: str | None
    resource: str | None
    count: int | None
    limit: int | None
    remaining: int | None
    reset: datetime | None
    time_window: int | None


def _text(value: object) -> str | None:
    return value[:100] if isinstance(value, str) else None


def rate_rows(rate_limits: Sequence[Any]) -> list[RateRow]:
    """Every rate of a stored ``rateLimits`` array, in eBay's order."""
    rows: list[RateRow] = []
    for api in rate_limits:
        if not isinstance(api, Mapping):
            continue
        for resource in api.get("resources") or ():
            if not isinstance(resource, Mapping):
                continue
            for rate in resource.get("rates") or ():
                if not isinstance(rate, Mapping):
                    continue
                rows.append(
                    RateRow(
                        api_context=_text(api.get("apiContext")),
                        api_name=_text(api.get("apiName")),
                        resource=_text(resource.get("name")),
                        count=_int(rate.get("count")),
                        limit=_int(rate.get("limit")),
                        remaining=_int(rate.get("remaining")),
                        reset=_reset(rate.get("reset")),
                        time_window=_int(rate.get("timeWindow")),
                    )
                )
    return rows
