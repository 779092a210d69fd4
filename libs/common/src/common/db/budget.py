"""The budget plans the scheduler computes (common.budget), kept for the admin API.

The scheduler stores each plan it polls by; the admin API's Budget page shows the latest and its
Schedule projection plans with the same intervals, so projection and scheduler agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, delete, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.budget.model import BudgetReport
from common.db.base import Base
from common.db.sync_tables import RunStatus, SyncRun
from common.families import Family

_FAMILIES = {str(f) for f in Family}


class BudgetPlan(Base):
    __tablename__ = "budget_plans"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    computed_at: Mapped[datetime]
    # A BudgetReport as JSON.
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store(self, report: BudgetReport, keep: int) -> None:
        """Store a plan and drop all but the ``keep`` newest."""
        self.session.add(
            BudgetPlan(computed_at=report.computed_at, report=report.model_dump(mode="json"))
        )
        await self.session.flush()
        newest = select(BudgetPlan.id).order_by(BudgetPlan.id.desc()).limit(keep)
        await self.session.execute(delete(BudgetPlan).where(BudgetPlan.id.not_in(newest)))

    async def clear(self) -> None:
        """Drop every stored plan: the budget is off, so the admin API's projection (which
        polls by the latest plan) must fall back to the configured cadences as the scheduler
        does."""
        await self.session.execute(delete(BudgetPlan))

    async def runs_since(self, since: datetime) -> dict[Family, int]:
        """Runs per family that succeeded since ``since`` (the quota day's start): with the
        ledger's calls they teach the planner what a run costs."""
        rows = await self.session.execute(
            select(SyncRun.family, func.count())
            .where(SyncRun.status == RunStatus.SUCCEEDED, SyncRun.finished_at >= since)
            .group_by(SyncRun.family)
        )
        return {Family(family): count for family, count in rows.all() if family in _FAMILIES}

    async def latest(self) -> BudgetReport | None:
        row = await self.session.scalar(
            select(BudgetPlan.report).order_by(BudgetPlan.id.desc()).limit(1)
        )
        return None if row is None else BudgetReport.model_validate(row)
