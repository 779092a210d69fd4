"""Run history with filters, and one run page by page."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AwareDatetime

from admin_api.dependencies import MAX_ID, CurrentUser, SessionDep, SettingsDep
from admin_api.schemas import RunDetailOut, RunOut
from admin_api.views import run_detail
from common.db.accounts import AccountRepository
from common.db.sync import RunQuery, SyncRepository
from common.families import Family
from common.messages import Trigger

router = APIRouter(prefix="/api/runs", tags=["runs"])

RunStatusName = Literal["queued", "running", "succeeded", "failed", "stale"]


@router.get("")
async def list_runs(
    user: CurrentUser,
    session: SessionDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    family: Family | None = None,
    status_: Annotated[RunStatusName | None, Query(alias="status")] = None,
    trigger: Trigger | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[RunOut]:
    """Runs of the org's accounts (or one account), newest first."""
    accounts = await AccountRepository(session).list_for_org(user.org_id)
    ids = [a.id for a in accounts if account_id is None or a.id == account_id]
    runs = await SyncRepository(session).list_runs(
        ids,
        RunQuery(
            family=str(family) if family else None,
            status=status_,
            trigger=str(trigger) if trigger else None,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        ),
    )
    return [RunOut.model_validate(r) for r in runs]


@router.get("/{run_id}", responses={404: {}})
async def get_run(
    run_id: UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> RunDetailOut:
    """A run with every written page (records, inserted, changed, unchanged) and its trace."""
    detail = await run_detail(session, user.org_id, run_id, settings.trace_url_template)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {run_id} not found")
    return detail
