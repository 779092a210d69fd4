"""Scheduling by a budget plan: the window policies with the plan's intervals as cadences.

The scheduler polls with these policies and the admin API's Schedule projection builds the
same ones from the same stored plan (``budget_plans``), so projection and scheduler agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta

from common.budget.model import BudgetReport
from common.families import Family
from common.windows import WindowPolicy


def planned_policies(
    policies: Mapping[Family, WindowPolicy], report: BudgetReport | None
) -> dict[Family, WindowPolicy]:
    """Each family's policy with the plan's interval as its cadence and, when the plan backs
    quiet pairs off (a short budget), the family's worst staleness as its backoff limit; a
    family the plan does not name (or no plan yet) keeps its configured cadence and no
    backoff."""
    planned: dict[Family, WindowPolicy] = {}
    for family, policy in policies.items():
        plan = report.family(family) if report is not None else None
        if plan is None:
            planned[family] = policy
            continue
        planned[family] = dataclasses.replace(
            policy,
            cadence=timedelta(seconds=plan.interval_seconds),
            backoff_limit=timedelta(seconds=plan.worst_seconds) if plan.backs_off else None,
            backoff_after=report.backoff_after if report is not None else policy.backoff_after,
        )
    return planned


def cadence_floors(policies: Mapping[Family, WindowPolicy]) -> dict[Family, timedelta]:
    """The configured cadences: the planner never polls a family more often."""
    return {family: policy.cadence for family, policy in policies.items()}
