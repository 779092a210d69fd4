"""Accounts and the state of each of their workers (one per family)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from admin_api.dependencies import NowDep, SessionDep
from admin_api.schemas import AccountOut, RunOut, WorkerOut
from common.db.accounts import AccountRepository
from common.db.sync import SyncRepository
from common.families import IMPLEMENTED_FAMILIES

router = APIRouter(prefix="/api/accounts", tags=["accounts"])


@router.get("")
async def list_accounts(session: SessionDep) -> list[AccountOut]:
    accounts = await AccountRepository(session).list_active()
    return [AccountOut.model_validate(a) for a in accounts]


@router.get("/{account_id}/workers")
async def list_workers(account_id: int, session: SessionDep, now: NowDep) -> list[WorkerOut]:
    """Per family: enabled, cursor, lag, last run and last error."""
    if await AccountRepository(session).get(account_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"account {account_id} not found")
    sync = SyncRepository(session)
    states = {s.family: s for s in await sync.states_for_account(account_id)}
    runs = await sync.latest_runs_for_account(account_id)
    families = sorted({*map(str, IMPLEMENTED_FAMILIES), *states, *runs})
    workers = []
    for family in families:
        state = states.get(family)
        run = runs.get(family)
        cursor = state.cursor if state else None
        workers.append(
            WorkerOut(
                family=family,
                enabled=state.enabled if state else True,
                cursor=cursor,
                lag_seconds=(now - cursor).total_seconds() if cursor else None,
                last_success_at=state.last_success_at if state else None,
                last_error=state.last_error if state else None,
                paused_until=state.paused_until if state else None,
                last_run=RunOut.model_validate(run) if run else None,
            )
        )
    return workers
