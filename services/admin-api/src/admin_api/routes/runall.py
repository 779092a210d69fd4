"""Run everything now: one window for every enabled pair of the org, through Run now's path.

Each pair goes through :func:`admin_api.runner.run_now`, so it is planned by the scheduler's
planner and published with the window's subject as the lock: a pair whose window is still in
flight is reported as skipped, never queued twice.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status

from admin_api.dependencies import AdminUser, ContextDep, NowDep, SessionDep
from admin_api.runner import paused_for, run_now
from admin_api.schemas import Schema
from common.db.accounts import AccountRepository
from common.db.sync import SyncRepository
from common.families import Family

router = APIRouter(tags=["workers"])


class PairOutcome(Schema):
    account_id: int
    family: str
    outcome: Literal["queued", "skipped", "up_to_date", "blocked"]
    detail: str


class RunEverythingOut(Schema):
    queued: int
    # Already in flight: the one-window-per-pair rule holds them back, which is not an error.
    skipped: int
    up_to_date: int
    blocked: int
    pairs: list[PairOutcome]


@router.post(
    "/api/accounts/run-all",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "the org (or the platform) is paused"}},
)
async def run_everything(
    admin: AdminUser, session: SessionDep, now: NowDep, context: ContextDep
) -> RunEverythingOut:
    """Queue a window for every enabled worker of every active account of the org; says
    how many were queued and which were skipped because their window is still in flight."""
    if await paused_for(context, admin.org_id):
        raise HTTPException(status.HTTP_409_CONFLICT, "pause-all is on: no new windows start")
    accounts = await AccountRepository(session).list_active_for_org(admin.org_id)
    states = await SyncRepository(session).states_for_accounts([a.id for a in accounts])
    pairs: list[PairOutcome] = []
    for account in accounts:
        for family in sorted(Family):
            state = states.get((account.id, str(family)))
            if state is not None and not state.enabled:
                continue  # a disabled worker is not part of "everything"
            result = await run_now(context, session, account, family, now)
            outcome = "skipped" if result.outcome == "in_flight" else result.outcome
            pairs.append(
                PairOutcome(
                    account_id=account.id, family=family, outcome=outcome, detail=result.detail
                )
            )
    counts = {
        kind: sum(p.outcome == kind for p in pairs)
        for kind in ("queued", "skipped", "up_to_date", "blocked")
    }
    return RunEverythingOut(**counts, pairs=pairs)
