"""The budget planner: how often each family is polled so that every API's calls today stay
inside its share of the daily quota. Pure: the scheduler gathers the inputs (ledger, pairs,
runs, quotas) and stores the answer (docs/adr/0017-budget.md).

The rule, per API: the calls already spent today plus what the plan spends until the quota
resets stay within ``share x quota``. While every family of the API polling at its configured
cadence (the floor; its aim when none is given) fits, that is the plan: a budget with calls to
spare slows nobody. When it does not fit, quiet pairs (runs that keep writing nothing) back off
first (:func:`common.budget.model.backed_off`), since sparing calls where nothing changes costs
no freshness; if that is not enough every family of the API is stretched by the same step, from
its cadence to its aim and on toward its worst staleness (geometrically, :func:`interval_at`),
and beyond the worst only when even that does not fit (said in the notes).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from common.budget.costs import CostModel, cost_model
from common.budget.model import (
    MAX_SLOWED,
    ApiBudget,
    BudgetReport,
    BudgetSettings,
    FamilyPlan,
    Freshness,
    SlowedPair,
    backed_off,
)
from common.budget.quotas import QuotaReading, resolve_quotas
from common.ebay.quota import EbayApi, seconds_until_quota_reset
from common.families import Family
from common.ledger import FAMILY_APIS, DailyQuotas, quota_day

log = logging.getLogger(__name__)

# Past this stretch a family would poll less than once a year: the search stops there.
_MAX_INTERVAL = timedelta(days=365)


@dataclass(frozen=True)
class PairLoad:
    """One enabled pair as the planner sees it."""

    account_id: int
    # Consecutive scheduled polls that wrote nothing (sync_state.quiet_runs).
    quiet_runs: int = 0
    # A run of the pair is queued or running: its calls are on their way to the ledger, so
    # the plan counts one run as spent already (else a day's last calls overshoot the budget).
    in_flight: bool = False


@dataclass(frozen=True)
class BudgetInputs:
    now: datetime
    configured: DailyQuotas
    # Calls spent today per API (the call ledger's ``<day>.<api>.total``).
    used_today: Mapping[EbayApi, int]
    # The enabled pairs of every family the scheduler plans (a family may have none).
    pairs: Mapping[Family, Sequence[PairLoad]]
    # Runs completed today per family, to learn calls per run from the ledger.
    runs_today: Mapping[Family, int] = field(default_factory=dict)
    # The application's limits as eBay reports them (Developer Analytics getRateLimits).
    reading: Sequence[QuotaReading] | None = None
    # The span the plan covers; None: until the quota day resets (the scheduler's case).
    horizon: timedelta | None = None
    # The shortest interval each family is polled at whatever the budget allows (the
    # scheduler's configured cadence, ``SCHEDULER_CADENCE_SECONDS``); none: the aim.
    floors: Mapping[Family, timedelta] = field(default_factory=dict)


def plan_budget(inputs: BudgetInputs, settings: BudgetSettings) -> BudgetReport:
    """The plan for ``inputs``: per API what it spends, per family how often it polls."""
    now = inputs.now.astimezone(UTC)
    resets_at = now + timedelta(seconds=seconds_until_quota_reset(now))
    horizon = inputs.horizon or (resets_at - now)
    notes: list[str] = []
    quotas = resolve_quotas(inputs.configured, inputs.reading, now, resets_at, notes)
    used = {api: max(inputs.used_today.get(api, 0), quotas.used.get(api, 0)) for api in EbayApi}
    policy = _with_floors(settings.policy(), inputs.floors)
    starts = {f: min(inputs.floors.get(f, policy[f].aim), policy[f].aim) for f in policy}
    curves = _Curves(policy, starts)
    costs = cost_model(inputs.runs_today, used, policy, settings.learn_after_runs, notes)
    stretch: dict[Family, _Stretch] = {}
    apis: list[ApiBudget] = []
    for api in EbayApi:
        families = [f for f in inputs.pairs if FAMILY_APIS.get(f) == api]
        quota = quotas.limits.get(api)
        if quota is None:
            continue
        budget = int(settings.share * quota)
        allowance = _allowance(api, quota, budget, used[api], notes)
        fitted = _fit(families, inputs.pairs, curves, costs, settings, horizon, allowance)
        stretch.update({family: fitted for family in families})
        spend = _demand(families, inputs.pairs, curves, costs, settings, horizon, fitted)
        apis.append(
            ApiBudget(
                api=api.value,
                quota=quota,
                budget=budget,
                used_today=used[api],
                projected_today=used[api] + round(spend),
                share_used=used[api] / quota,
            )
        )
        if fitted.beyond_worst:
            notes.append(
                f"{api.value}: the quota is short even at every family's worst staleness; "
                f"{', '.join(families)} poll less often than their worst"
            )
    report_families, slowed = _families(inputs.pairs, curves, costs, settings, stretch)
    for note in notes:
        log.warning("budget: %s", note)
    return BudgetReport(
        computed_at=now,
        quota_day=quota_day(now),
        resets_at=resets_at,
        quota_source=quotas.source,
        notes=notes,
        apis=apis,
        families=report_families,
        slowed=slowed[:MAX_SLOWED],
        backoff_after=settings.backoff_after,
    )


def _with_floors(
    policy: Mapping[Family, Freshness], floors: Mapping[Family, timedelta]
) -> dict[Family, Freshness]:
    """The policy with each aim raised to the family's floor (and its worst with it): a family
    is never polled more often than the scheduler's configured cadence."""
    raised: dict[Family, Freshness] = {}
    for family, freshness in policy.items():
        floor = floors.get(family, timedelta(0))
        aim = max(freshness.aim, floor)
        raised[family] = Freshness(aim=aim, worst=max(freshness.worst, aim))
    return raised


# The least stretch: every family at its start (its configured cadence, or its aim).
_AT_START = -1.0


@dataclass(frozen=True)
class _Stretch:
    t: float = _AT_START
    # The API whose budget the plan had to fit (None: the calls were ample at the start).
    api: EbayApi | None = None
    beyond_worst: bool = False
    # Whether quiet pairs back off: only when the budget is short at the start.
    backoff: bool = False


@dataclass(frozen=True)
class _Curves:
    """Each family's freshness (aim and worst raised to its floor) and where it starts."""

    policy: Mapping[Family, Freshness]
    starts: Mapping[Family, timedelta]

    def interval(self, family: Family, t: float) -> timedelta:
        return interval_at(self.policy[family], t, self.starts.get(family))


def interval_at(freshness: Freshness, t: float, start: timedelta | None = None) -> timedelta:
    """A family's interval at stretch ``t``: its ``start`` (the configured cadence; its aim
    when none) at -1, its aim at 0, its worst at 1, geometrically in between, doubling per unit
    beyond (only when a quota is truly short)."""
    aim, worst = freshness.aim.total_seconds(), freshness.worst.total_seconds()
    first = min(start.total_seconds(), aim) if start is not None and start > timedelta(0) else aim
    if t < 0:
        seconds = first * (aim / first) ** (max(t, _AT_START) + 1)
    elif t <= 1:
        seconds = aim * (worst / aim) ** t
    else:
        seconds = worst * 2 ** (t - 1)
    return timedelta(seconds=min(seconds, _MAX_INTERVAL.total_seconds()))


def _allowance(api: EbayApi, quota: int, budget: int, used: int, notes: list[str]) -> float:
    if used < budget:
        return budget - used
    if used < quota:
        # Never stop syncing while calls are left: plan the rest of the quota, slowly.
        notes.append(
            f"{api.value}: the budget ({budget} calls) is spent ({used}); "
            f"planning the {quota - used} calls left of the quota"
        )
        return quota - used
    notes.append(f"{api.value}: the quota ({quota}) is spent; its families wait for the reset")
    return 0.0


def _fit(
    families: Sequence[Family],
    pairs: Mapping[Family, Sequence[PairLoad]],
    curves: _Curves,
    costs: CostModel,
    settings: BudgetSettings,
    horizon: timedelta,
    allowance: float,
) -> _Stretch:
    """The least stretch whose projected calls fit ``allowance``: none while the families at
    their start fit (no backoff either); else quiet pairs back off, and the families stretch as
    far as that is not enough (bisection: demand falls as the stretch grows)."""

    def fits(stretch: _Stretch) -> bool:
        return _demand(families, pairs, curves, costs, settings, horizon, stretch) <= allowance

    if not families or fits(_Stretch()):
        return _Stretch()
    api = FAMILY_APIS.get(families[0])

    def at(t: float) -> _Stretch:
        return _Stretch(t, api, beyond_worst=t > 1.0, backoff=True)

    if fits(at(_AT_START)):
        return at(_AT_START)
    high = 1.0
    while not fits(at(high)):
        if all(curves.interval(f, high) >= _MAX_INTERVAL for f in families):
            return at(high)
        high *= 2
    low = _AT_START
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (low, middle) if fits(at(middle)) else (middle, high)
    return at(high)


def _pair_interval(
    interval: timedelta, worst: timedelta, pair: PairLoad, stretch: _Stretch, after: int
) -> timedelta:
    return backed_off(interval, worst, pair.quiet_runs, after) if stretch.backoff else interval


def _demand(
    families: Sequence[Family],
    pairs: Mapping[Family, Sequence[PairLoad]],
    curves: _Curves,
    costs: CostModel,
    settings: BudgetSettings,
    horizon: timedelta,
    stretch: _Stretch,
) -> float:
    """The calls the families spend within ``horizon`` at ``stretch``."""
    total = 0.0
    for family in families:
        worst = curves.policy[family].worst
        interval = curves.interval(family, stretch.t)
        for pair in pairs[family]:
            own = _pair_interval(interval, worst, pair, stretch, settings.backoff_after)
            total += costs.calls_per_day(family, own) * horizon / timedelta(days=1)
            if pair.in_flight:
                total += costs.calls_per_run(family, own)
    return total


def _families(
    pairs: Mapping[Family, Sequence[PairLoad]],
    curves: _Curves,
    costs: CostModel,
    settings: BudgetSettings,
    stretch: Mapping[Family, _Stretch],
) -> tuple[list[FamilyPlan], list[SlowedPair]]:
    plans: list[FamilyPlan] = []
    slowed: list[SlowedPair] = []
    for family, loads in pairs.items():
        freshness = curves.policy[family]
        fitted = stretch.get(family, _Stretch())
        interval = curves.interval(family, fitted.t)
        own = [
            _pair_interval(interval, freshness.worst, load, fitted, settings.backoff_after)
            for load in loads
        ]
        for load, seconds in zip(loads, own, strict=True):
            if seconds > interval:
                slowed.append(
                    SlowedPair(
                        account_id=load.account_id,
                        family=family,
                        interval_seconds=seconds.total_seconds(),
                        reason=f"{load.quiet_runs} runs in a row found nothing",
                    )
                )
        staleness = [s.total_seconds() for s in own] or [interval.total_seconds()]
        plans.append(
            FamilyPlan(
                family=family,
                pairs=len(loads),
                calls_per_run=costs.calls_per_run(family, interval),
                aim_seconds=freshness.aim.total_seconds(),
                worst_seconds=freshness.worst.total_seconds(),
                interval_seconds=interval.total_seconds(),
                median_staleness_seconds=statistics.median(staleness),
                worst_staleness_seconds=max(staleness),
                within_aim=interval <= freshness.aim,
                slowed_pairs=sum(1 for s in own if s > interval),
                backs_off=fitted.backoff,
                reason=_reason(fitted, interval, freshness),
            )
        )
    slowed.sort(key=lambda pair: -pair.interval_seconds)
    return plans, slowed


def _reason(fitted: _Stretch, interval: timedelta, freshness: Freshness) -> str:
    if fitted.api is None:
        return "at its cadence: the budget has calls to spare"
    if fitted.t <= _AT_START:
        return f"at its cadence; quiet pairs back off to fit the {fitted.api.value} budget"
    if interval <= freshness.aim:
        return f"stretched toward its aim to fit the {fitted.api.value} budget"
    if fitted.beyond_worst:
        return f"beyond its worst: the {fitted.api.value} quota is short"
    return f"stretched toward its worst to fit the {fitted.api.value} budget"
