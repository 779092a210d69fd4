"""``ebaysync budget``: what the call budget plan achieves, for the live system (the plan the
scheduler stored last) or simulated for N accounts with the planner and its cost model.

Quotas: ``default`` (the configured defaults, fact sheet §6), ``growth`` (the preset file
``presets/growth.json``: an assumption, its note says which) or a FILE of the same shape:
a JSON object of :class:`DailyQuotas` fields (whole numbers above 0) and an optional ``note``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from common.budget import (
    BudgetInputs,
    BudgetReport,
    BudgetSettings,
    PairLoad,
    cadence_floors,
    plan_budget,
)
from common.db.budget import BudgetRepository
from common.families import Family
from common.ledger import DailyQuotas
from common.settings import WindowSettings

PRESETS = Path(__file__).parent / "presets"
GROWTH = PRESETS / "growth.json"


class QuotaFileError(ValueError):
    """A --quotas FILE that is not a quota preset (the message says why)."""


def load_quotas(choice: str) -> tuple[DailyQuotas, str]:
    """The quotas ``--quotas`` names, and a line saying where they come from."""
    if choice == "default":
        return DailyQuotas(), "default quotas (fact sheet §6)"
    path = GROWTH if choice == "growth" else Path(choice)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise QuotaFileError(f"--quotas {choice}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise QuotaFileError(f"--quotas {choice}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise QuotaFileError(f"--quotas {choice}: expected a JSON object of quotas")
    note = data.pop("note", None)
    unknown = sorted(set(data) - set(DailyQuotas.model_fields))
    if unknown:
        known = ", ".join(DailyQuotas.model_fields)
        raise QuotaFileError(f"--quotas {choice}: unknown API {', '.join(unknown)} ({known})")
    bad = [k for k, v in data.items() if isinstance(v, bool) or not isinstance(v, int) or v <= 0]
    if bad:
        raise QuotaFileError(f"--quotas {choice}: {', '.join(bad)} must be whole numbers above 0")
    quotas = DailyQuotas.model_validate(data)
    label = f"quotas from {path.name}" + (f" ({note})" if isinstance(note, str) else "")
    return quotas, label


async def stored_report(database_url: str) -> BudgetReport | None:
    """The plan the scheduler stored last (``budget_plans``), if any."""
    engine = create_async_engine(database_url)
    try:
        async with AsyncSession(engine) as session:
            return await BudgetRepository(session).latest()
    finally:
        await engine.dispose()


def simulate(accounts: int, quotas: DailyQuotas, now: datetime | None = None) -> BudgetReport:
    """The plan for ``accounts`` sellers, every family enabled, over a whole quota day from
    nothing spent, with the planner's default cost model (the calls per run the benchmark
    counted, docs/adr/0021) and the configured cadences (``SCHEDULER_*``, as the scheduler
    plans): the steady state the quotas allow."""
    families = sorted(Family)
    pairs = {family: [PairLoad(account_id=i + 1) for i in range(accounts)] for family in families}
    windows = WindowSettings()
    inputs = BudgetInputs(
        now=now or datetime.now(UTC),
        configured=quotas,
        used_today={},
        pairs=pairs,
        horizon=timedelta(days=1),
        floors=cadence_floors({family: windows.policy(family) for family in families}),
    )
    return plan_budget(inputs, BudgetSettings())


def _span(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def format_report(report: dict[str, Any], source: str) -> list[str]:
    """The plan as text: per API quota, projected calls and share; per family the freshness."""
    lines = [f"budget plan ({source}), quotas from {report.get('quota_source')}"]
    lines += [f"  note: {note}" for note in report.get("notes") or ()]
    # Share: of the quota, what the day's projected calls take (used today is in the JSON).
    lines.append(f"{'API':<20}{'quota':>12}{'budget':>12}{'projected/day':>15}{'share':>9}")
    for api in report.get("apis") or ():
        share = api["projected_today"] / api["quota"] if api["quota"] else 0.0
        lines.append(
            f"{api['api']:<20}{api['quota']:>12,}{api['budget']:>12,}"
            f"{round(api['projected_today']):>15,}{100 * share:>8.1f}%"
        )
    lines.append(
        f"{'family':<18}{'pairs':>7}{'calls/run':>10}{'aim':>7}{'poll':>7}"
        f"{'median':>8}{'worst':>8}  within aim"
    )
    for fam in report.get("families") or ():
        lines.append(
            f"{fam['family']:<18}{fam['pairs']:>7}{fam['calls_per_run']:>10.1f}"
            f"{_span(fam['aim_seconds']):>7}{_span(fam['interval_seconds']):>7}"
            f"{_span(fam['median_staleness_seconds']):>8}{_span(fam['worst_staleness_seconds']):>8}"
            f"  {'yes' if fam['within_aim'] else 'no: ' + str(fam.get('reason') or '')}"
        )
    slowed = report.get("slowed") or ()
    if slowed:
        lines.append(f"{len(slowed)} pairs slowed down")
    return lines
