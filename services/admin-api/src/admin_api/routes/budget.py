"""The call budget for the operators: the scheduler's latest plan (per API the quota, used
today and projected; per family the planned freshness; the pairs slowed down and why) and the
application's quotas as eBay last reported them (getRateLimits, read daily by the token service).

eBay's quotas are per application, so the plan is the whole deployment's; the slowed pairs are
shown for the caller's org only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query
from pydantic import BaseModel

from admin_api.dependencies import CurrentUser, NowDep, SessionDep, SettingsDep
from common.budget import BudgetReport
from common.db.accounts import AccountRepository
from common.db.budget import BudgetRepository
from common.db.quotas import QuotaReadingRepository
from common.ebay.quota import seconds_until_quota_reset
from common.quotas import RateRow, rate_rows

router = APIRouter(tags=["budget"])


class QuotaReadingOut(BaseModel):
    """eBay's getRateLimits answer as the token service last stored it (None: never read)."""

    read_at: datetime | None
    ok: bool | None
    # Why the last read failed, if it did.
    detail: str | None
    rates: list[RateRow]


class BudgetOut(BaseModel):
    # The scheduler's latest plan (None: none stored yet); ``slowed`` holds the org's pairs only.
    report: BudgetReport | None
    # The next midnight US Pacific by this server's clock (eBay's daily quota reset).
    resets_at: datetime
    reading: QuotaReadingOut


@router.get("/api/budget")
async def budget(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    slowed_limit: int = Query(default=200, ge=1, le=5000),
) -> BudgetOut:
    """The latest budget plan and the quotas eBay reported."""
    report = await BudgetRepository(session).latest()
    if report is not None:
        accounts = await AccountRepository(session).list_active_for_org(user.org_id)
        ours = {a.id for a in accounts}
        slowed = [p for p in report.slowed if p.account_id in ours][:slowed_limit]
        report = report.model_copy(update={"slowed": slowed})
    stored = await QuotaReadingRepository(session).latest(settings.ebay.client_id)
    reading = QuotaReadingOut(
        read_at=stored.read_at if stored else None,
        ok=stored.ok if stored else None,
        detail=stored.detail if stored else None,
        rates=rate_rows(stored.rate_limits) if stored else [],
    )
    resets_at = now + timedelta(seconds=seconds_until_quota_reset(now))
    return BudgetOut(report=report, resets_at=resets_at, reading=reading)
