"""The daily call budget: plan every eBay call inside the quotas (docs/adr/0017-budget.md)."""

from common.budget.apply import cadence_floors, planned_policies
from common.budget.costs import CostModel, cost_model
from common.budget.model import (
    DEFAULT_FRESHNESS,
    MAX_SLOWED,
    ApiBudget,
    BudgetReport,
    BudgetSettings,
    FamilyPlan,
    Freshness,
    SlowedPair,
    backed_off,
)
from common.budget.planner import BudgetInputs, PairLoad, interval_at, plan_budget
from common.budget.quotas import QuotaReading

__all__ = [
    "DEFAULT_FRESHNESS",
    "MAX_SLOWED",
    "ApiBudget",
    "BudgetInputs",
    "BudgetReport",
    "BudgetSettings",
    "CostModel",
    "FamilyPlan",
    "Freshness",
    "PairLoad",
    "QuotaReading",
    "SlowedPair",
    "backed_off",
    "cadence_floors",
    "cost_model",
    "interval_at",
    "plan_budget",
    "planned_policies",
]
