"""The budget's vocabulary: the freshness policy, the settings, and the plan it reports.

The planner (:mod:`common.budget.planner`) turns quotas, the calls spent today and the pairs
into a :class:`BudgetReport`; the scheduler stores it (table ``budget_plans``) and polls by it,
the admin API's Budget page and Schedule projection read the stored one, so what operators are
shown is what the scheduler does (docs/adr/0017-budget.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from common.families import Family


class Freshness(BaseModel):
    """How stale a family's mirror may get: the aim the plan keeps while the quotas allow it,
    and the most it stretches to (beyond only when a quota is truly short, said in the notes)."""

    aim: timedelta
    worst: timedelta

    @model_validator(mode="after")
    def _ordered(self) -> Freshness:
        if not timedelta(0) < self.aim <= self.worst:
            raise ValueError("freshness needs 0 < aim <= worst")
        return self


# A seller-operations team's defaults: an order must show within minutes (it is shipped from
# the mirror), a buyer's message within half an hour, a case within the 1.5 h that still leaves
# its response deadline days away; payouts, listings and purchases change slowly. Sized so that
# 73 accounts keep every family within its aim under eBay's default quotas (the binding one is
# Trading: README "Budget", docs/adr/0017-budget.md).
DEFAULT_FRESHNESS: Mapping[Family, Freshness] = {
    Family.ORDERS: Freshness(aim=timedelta(minutes=5), worst=timedelta(hours=1)),
    Family.TRANSACTIONS: Freshness(aim=timedelta(minutes=30), worst=timedelta(hours=12)),
    Family.FINANCES: Freshness(aim=timedelta(hours=1), worst=timedelta(hours=24)),
    Family.OFFERS: Freshness(aim=timedelta(hours=1), worst=timedelta(hours=24)),
    Family.MESSAGES: Freshness(aim=timedelta(minutes=30), worst=timedelta(hours=6)),
    Family.ACTIVE_INVENTORY: Freshness(aim=timedelta(hours=3), worst=timedelta(hours=24)),
    Family.PURCHASES: Freshness(aim=timedelta(hours=6), worst=timedelta(hours=24)),
    Family.CASES: Freshness(aim=timedelta(minutes=90), worst=timedelta(hours=12)),
    Family.INQUIRIES: Freshness(aim=timedelta(minutes=90), worst=timedelta(hours=12)),
    Family.RETURNS: Freshness(aim=timedelta(minutes=90), worst=timedelta(hours=12)),
    Family.PAYMENT_DISPUTES: Freshness(aim=timedelta(minutes=30), worst=timedelta(hours=12)),
}


class BudgetSettings(BaseModel):
    """The daily call budget the scheduler plans inside (nested as ``SCHEDULER_BUDGET__…``)."""

    # The share of every API's quota the plan may spend; the rest absorbs run-now windows,
    # retries and the estimate's error before the ledger makes everyone wait for the reset.
    share: float = Field(default=0.9, gt=0, le=1)
    # How often the scheduler recomputes the plan from the ledger and the pairs.
    recompute_seconds: float = Field(default=60.0, gt=0)
    # Per family; a family left out keeps its default.
    freshness: dict[Family, Freshness] = Field(default_factory=dict)
    # Consecutive runs that wrote nothing before a pair backs off (its interval doubles per
    # further quiet run, up to the family's worst staleness).
    backoff_after: int = Field(default=2, ge=1)
    # Runs of a family today before its calls per run are learned from the ledger.
    learn_after_runs: int = Field(default=20, ge=1)
    # Stored plans kept (the latest is used; the others show how the plan moved).
    keep_plans: int = Field(default=5, ge=1)

    def policy(self) -> dict[Family, Freshness]:
        return {**DEFAULT_FRESHNESS, **self.freshness}


QuotaSource = Literal["configured", "getRateLimits"]


class ApiBudget(BaseModel):
    api: str
    quota: int
    # share x quota: what the plan may spend today.
    budget: int
    used_today: int
    # used_today plus what the plan spends until the reset.
    projected_today: int
    # used_today / quota.
    share_used: float


class FamilyPlan(BaseModel):
    family: Family
    pairs: int
    # Calls one run costs, phases amortized by their cadences at this interval.
    calls_per_run: float
    aim_seconds: float
    worst_seconds: float
    # The family's polling interval (a pair's cadence before its own backoff).
    interval_seconds: float
    # Over the family's pairs, the staleness each reaches before its next poll.
    median_staleness_seconds: float
    worst_staleness_seconds: float
    within_aim: bool
    # Pairs polled less often than the family interval because their runs found nothing.
    slowed_pairs: int
    # Whether quiet pairs back off (toward the worst): only when the budget is short. With
    # calls to spare every pair polls at the family interval, its configured cadence.
    backs_off: bool = False
    reason: str


class SlowedPair(BaseModel):
    account_id: int
    family: Family
    interval_seconds: float
    reason: str


class BudgetReport(BaseModel):
    """One plan: per API what it spends, per family how often it polls; JSON-serializable."""

    computed_at: datetime
    quota_day: date
    resets_at: datetime
    quota_source: QuotaSource
    notes: list[str] = Field(default_factory=list)
    apis: list[ApiBudget] = Field(default_factory=list)
    families: list[FamilyPlan] = Field(default_factory=list)
    # At most MAX_SLOWED pairs, the most slowed first.
    slowed: list[SlowedPair] = Field(default_factory=list)
    # The backoff rule the plan was made with (BudgetSettings.backoff_after): whoever
    # schedules by this plan backs pairs off alike.
    backoff_after: int = 2

    def family(self, family: Family) -> FamilyPlan | None:
        return next((plan for plan in self.families if plan.family == family), None)


MAX_SLOWED = 100


def backed_off(
    interval: timedelta, worst: timedelta | None, quiet_runs: int, backoff_after: int
) -> timedelta:
    """A pair's own polling interval: the family's, doubled per quiet run from
    ``backoff_after`` consecutive runs that wrote nothing on, never beyond the family's worst
    staleness (or the family interval, when the plan already stretched it past the worst).

    The one home of the per-pair backoff: the planner projects with it, and
    ``common.scheduling.next_due_at`` schedules with it.
    """
    if worst is None or quiet_runs < backoff_after:
        return interval
    ceiling = max(interval, worst)
    doublings = min(quiet_runs - backoff_after + 1, 32)  # 2**32 intervals exceed any worst
    return min(ceiling, interval * float(2**doublings))
