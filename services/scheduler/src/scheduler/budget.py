"""The scheduler's budget: recompute the plan from the ledger and the pairs, store it, and poll
by it (docs/adr/0017-budget.md).

Every ``recompute_seconds`` the leader reads the day's calls per API from the shared call
ledger (KV ``call_ledger``, read only), the enabled pairs with their quiet runs and the runs
completed today, plans with :func:`common.budget.plan_budget`, stores the report
(``budget_plans``: the admin API shows it and projects with it) and hands the scheduler the
policies it implies. A failed recompute keeps the last plan: syncing never stops for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget import (
    BudgetInputs,
    BudgetReport,
    BudgetSettings,
    PairLoad,
    QuotaReading,
    cadence_floors,
    plan_budget,
    planned_policies,
)
from common.db.budget import BudgetRepository
from common.db.sync import SyncRepository
from common.ebay.quota import seconds_until_quota_reset
from common.families import Family
from common.ledger import CallLedger, DailyQuotas
from common.metrics import PLANNED_STALENESS, QUOTA_USED
from common.windows import WindowPolicy

log = logging.getLogger(__name__)

# eBay's own reading of the application's limits (common.db.quotas.StoredQuotas: the token
# service's getRateLimits, daily) and the notes on what of it could not be read.
ReadQuotas = Callable[[], Awaitable[tuple[Sequence[QuotaReading], Sequence[str]]]]


async def no_reading() -> tuple[Sequence[QuotaReading], Sequence[str]]:
    return [], []


def export_metrics(report: BudgetReport) -> None:
    """The plan as metrics: each API's share used, each family's planned worst staleness."""
    for api in report.apis:
        QUOTA_USED.labels(api.api).set(api.share_used)
    for family in report.families:
        PLANNED_STALENESS.labels(family.family.value).set(family.worst_staleness_seconds)


class Budget:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ledger: CallLedger,
        settings: BudgetSettings,
        quotas: DailyQuotas,
        policies: Mapping[Family, WindowPolicy],
        *,
        stale_after: timedelta,
        clock: Callable[[], datetime],
        read_quotas: ReadQuotas = no_reading,
    ) -> None:
        self._sessions = sessions
        self._ledger = ledger
        self._settings = settings
        self._quotas = quotas
        self._policies = dict(policies)
        self._stale_after = stale_after
        self._clock = clock
        self._read_quotas = read_quotas
        self._computed_at: datetime | None = None
        self.report: BudgetReport | None = None

    def due(self) -> bool:
        """Whether the plan is due to be recomputed (always before the first one)."""
        if self._computed_at is None:
            return True
        return abs(self._clock() - self._computed_at) >= timedelta(
            seconds=self._settings.recompute_seconds
        )

    async def recompute(self) -> dict[Family, WindowPolicy]:
        """Plan anew, store the plan, and return the policies to poll by."""
        now = self._clock()
        day_start = now - timedelta(seconds=86400 - seconds_until_quota_reset(now))
        families = list(self._policies)
        async with self._sessions() as session:
            pairs = await SyncRepository(session).pair_states(families, now, self._stale_after)
            runs_today = await BudgetRepository(session).runs_since(day_start)
        loads: dict[Family, list[PairLoad]] = {family: [] for family in families}
        for pair in pairs:
            if pair.enabled:
                loads[pair.family].append(
                    PairLoad(pair.account_id, pair.quiet_runs, in_flight=pair.in_flight)
                )
        reading, reading_notes = await self._read_quotas()
        report = plan_budget(
            BudgetInputs(
                now=now,
                configured=self._quotas,
                used_today=await self._ledger.api_totals(),
                pairs=loads,
                runs_today=runs_today,
                reading=reading,
                floors=cadence_floors(self._policies),
            ),
            self._settings,
        )
        if reading_notes:  # why quotas are the configured ones: on the Budget page too
            for note in reading_notes:
                log.warning("budget: %s", note)
            report = report.model_copy(update={"notes": [*reading_notes, *report.notes]})
        export_metrics(report)
        async with self._sessions() as session, session.begin():
            await BudgetRepository(session).store(report, self._settings.keep_plans)
        self.report, self._computed_at = report, now
        return planned_policies(self._policies, report)
