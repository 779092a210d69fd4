"""Run history with filters, and one run page by page."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.dependencies import (
    MAX_ID,
    ContextDep,
    CurrentUser,
    OperatorUser,
    SessionDep,
    SettingsDep,
    after_commit,
)
from admin_api.runner import control_bucket
from admin_api.schemas import RunDetailOut, RunLogLineOut, RunOut
from admin_api.views import run_detail
from common.control import CancelRequests
from common.db.accounts import AccountRepository
from common.db.runlog import LogKind, LogLine, RunLogRepository, SyncRunLog
from common.db.sync import RunQuery, SyncRepository
from common.families import Family
from common.messages import Trigger

router = APIRouter(prefix="/api/runs", tags=["runs"])

RunStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled", "stale"]


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


@router.get("/{run_id}/log", responses={404: {}})
async def run_log(
    run_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Lines after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 1_000,
) -> list[RunLogLineOut]:
    """The run's log lines after ``after``, oldest first: start, pages with their counts,
    retries with their reason and eBay's request id, errors, cancel, done."""
    await _org_run(session, user.org_id, run_id)
    lines = await RunLogRepository(session).lines(run_id, after_id=after, limit=limit)
    return [RunLogLineOut.model_validate(line) for line in lines]


@router.get(
    "/{run_id}/log.txt",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 404: {}},
)
async def download_run_log(run_id: UUID, user: CurrentUser, session: SessionDep) -> Response:
    """The whole log as a text file, one line per entry."""
    await _org_run(session, user.org_id, run_id)
    lines = await RunLogRepository(session).lines(run_id, limit=DOWNLOAD_LINES)
    text = "".join(log_text(line) + "\n" for line in lines)
    disposition = f'attachment; filename="run-{run_id}.log"'
    return PlainTextResponse(text, headers={"Content-Disposition": disposition})


@router.post("/{run_id}/cancel", responses={404: {}, 409: {"description": "The run ended"}})
async def cancel_run(
    run_id: UUID, user: OperatorUser, session: SessionDep, context: ContextDep
) -> RunDetailOut:
    """Stop a queued or running window: its fetcher stops before its next eBay call, what it
    wrote stays, and the run never moves the pair's cursor."""
    run = await _org_run(session, user.org_id, run_id)
    if not await SyncRepository(session).cancel_run(run_id, user.email):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} already {run.status}")
    line = LogLine(
        "admin-api",
        LogKind.CANCELLED,
        f"cancelled by {user.email}; the fetcher stops before its next eBay call",
    )
    await RunLogRepository(session).add(run_id, [line])
    # Asked before the commit: if the bus cannot take it, nothing is cancelled.
    await CancelRequests(await control_bucket(context)).ask(run_id)
    after_commit(session, context.changes.notify)
    detail = await run_detail(session, user.org_id, run_id, context.settings.trace_url_template)
    assert detail is not None
    return detail


# A download holds every line a run can reasonably have (a page, a retry or two per page).
DOWNLOAD_LINES = 100_000


def log_text(line: SyncRunLog) -> str:
    """One line of the downloaded log: time, source, kind, message, eBay's request id."""
    request_id = f" [eBay request id {line.ebay_request_id}]" if line.ebay_request_id else ""
    page = f" page {line.page_no}" if line.page_no is not None else ""
    return f"{line.at.isoformat()} {line.source}{page} {line.kind}: {line.message}{request_id}"


async def _org_run(session: AsyncSession, org_id: int, run_id: UUID) -> RunDetailOut:
    detail = await run_detail(session, org_id, run_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {run_id} not found")
    return detail
