"""eBay's getRateLimits answer, as the token service stored it, turned into what the budget
planner takes (:class:`common.budget.QuotaReading`, one per ledger API), with a note for every
API it could not read.

Two steps, two homes: here the *reading* (the contract's shape: an integer limit of a daily
window, per API and resource; a failed read, a missing API, a limit that is missing, not a
number or absurd); in :func:`common.budget.quotas.resolve_quotas` the *judgement* (a limit of 0
or less, a stale reading, a clock far off). Whatever is not read, the planner takes from the
configured quotas; a misread must never stop syncing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from common.budget.quotas import QuotaReading
from common.ebay.quota import EbayApi
from common.ledger import DailyQuotas

DAY_SECONDS = 86_400
# A limit above this is no reading of eBay's (the largest documented quota is 2,000,000).
MAX_PLAUSIBLE_LIMIT = 1_000_000_000
# The Trading calls the families make: eBay limits Trading per call, the ledger counts Trading
# as one pool, so the pool's reading is that of the call with the smallest limit (safe side).
TRADING_CALLS = ("GetMyMessages", "GetMyeBaySelling", "GetMyeBayBuying")
# Post-Order resources as getRateLimits names them, and their ledger APIs.
POSTORDER_RESOURCES: Mapping[str, EbayApi] = {
    "casemanagement": EbayApi.POSTORDER_CASES,
    "inquiry": EbayApi.POSTORDER_INQUIRIES,
    "return": EbayApi.POSTORDER_RETURNS,
}


@dataclass(frozen=True)
class StoredReading:
    """What the token service stored: the raw ``rateLimits`` array, or why there is none."""

    read_at: datetime
    ok: bool
    rate_limits: Sequence[Any]
    detail: str | None = None


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
    """The ledger API a getRateLimits resource counts for (names compared case-blind: eBay's
    casing is mixed, fact sheet §6)."""
    api, name = api_name.casefold(), resource.casefold()
    if api == "fulfillment":
        return EbayApi.PAYMENT_DISPUTE if "payment_dispute" in name else EbayApi.FULFILLMENT
    if api == "tradingapi":
        return EbayApi.TRADING if resource in TRADING_CALLS else None
    if api in ("postorder", "post-order"):
        return POSTORDER_RESOURCES.get(name)
    return {"finances": EbayApi.FINANCES, "inventory": EbayApi.INVENTORY}.get(api)


def _daily_rates(rate_limits: Sequence[Any]) -> dict[EbayApi, list[Mapping[str, Any]]]:
    """Each ledger API's daily rates; entries not of the contract's shape are skipped."""
    found: dict[EbayApi, list[Mapping[str, Any]]] = {}
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
                if _int(rate.get("timeWindow")) == DAY_SECONDS:  # not per-user or short windows
                    found.setdefault(pool, []).append(rate)
    return found


def _problem(rates: list[Mapping[str, Any]]) -> str | None:
    if not rates:
        return "missing from the getRateLimits reading"
    limits = [_int(r.get("limit")) for r in rates]
    if any(limit is None for limit in limits):
        return "getRateLimits gives a limit that is missing or not a number"
    if any(limit is not None and limit > MAX_PLAUSIBLE_LIMIT for limit in limits):
        return "getRateLimits gives an implausible limit"
    return None


def quota_readings(
    stored: StoredReading | None, configured: DailyQuotas
) -> tuple[list[QuotaReading], list[str]]:
    """The planner's readings from what was stored, and a note per API left to the configured
    quota (``configured`` only names the fallback in the note)."""
    if stored is None:
        return [], ["no getRateLimits reading yet: using the configured quotas"]
    if not stored.ok:
        why = stored.detail or "failed"
        return [], [f"getRateLimits failed ({why}): using the configured quotas"]
    rates = _daily_rates(stored.rate_limits)
    readings: list[QuotaReading] = []
    notes: list[str] = []
    for api in EbayApi:
        if api is EbayApi.OTHER:
            continue
        problem = _problem(rates.get(api, []))
        if problem is not None:
            fallback = getattr(configured, api.value)
            notes.append(f"{api.value}: {problem}; using the configured quota {fallback:,}")
            continue
        # The tightest window of the pool (Trading: the call with the smallest limit).
        rate = min(rates[api], key=lambda r: _int(r.get("limit")) or 0)
        limit = _int(rate.get("limit"))
        assert limit is not None
        readings.append(
            QuotaReading(
                api=api,
                limit=limit,
                remaining=_int(rate.get("remaining")),
                reset=_reset(rate.get("reset")),
                read_at=stored.read_at,
            )
        )
    return readings, notes


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
