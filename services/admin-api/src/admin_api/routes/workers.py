"""Workers, one per (account, family): state, enable/disable, resume, run now, run all, and
the schedule the scheduler will follow."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from admin_api.dependencies import (
    AccountDep,
    AdminUser,
    ContextDep,
    CurrentUser,
    NowDep,
    OperatorUser,
    SessionDep,
    after_commit,
)
from admin_api.runner import RunResult, paused_for, run_now
from admin_api.schemas import (
    RepairIn,
    RepairOut,
    RunAllItem,
    RunQueuedOut,
    ScheduleOut,
    WorkerOut,
    WorkerPatch,
)
from admin_api.views import by_severity, schedule_for, workers_for
from common.db.accounts import AccountRepository, EbayAccount
from common.db.sync import SyncRepository
from common.families import Family, families_of
from common.repair import repair_pair

router = APIRouter(tags=["workers"])

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "in flight, up to date, disabled, paused or not synced by the account"}
}


@router.get("/api/workers")
async def all_workers(
    user: CurrentUser, session: SessionDep, now: NowDep, context: ContextDep
) -> list[WorkerOut]:
    """Every worker of the org's active accounts, most urgent first (failing, paused, behind,
    running, idle, disabled, ok)."""
    accounts = await AccountRepository(session).list_active_for_org(user.org_id)
    paused = await paused_for(context, user.org_id)
    return by_severity(await workers_for(session, accounts, now, context.settings, paused))


@router.get("/api/accounts/{account_id}/workers", responses={404: {}})
async def list_workers(
    account: AccountDep, session: SessionDep, now: NowDep, context: ContextDep
) -> list[WorkerOut]:
    """Per family: status light and why, cursor, lag, last run, last error, paused until."""
    paused = await paused_for(context, account.org_id)
    return await workers_for(session, [account], now, context.settings, paused)


@router.patch("/api/accounts/{account_id}/workers/{family}", responses={404: {}})
async def set_worker_enabled(
    family: Family,
    body: WorkerPatch,
    account: AccountDep,
    user: OperatorUser,
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
) -> WorkerOut:
    """Enable or disable a worker; a disabled worker gets no scheduled windows."""
    await SyncRepository(session).set_enabled(account.id, family, body.enabled, now)
    after_commit(session, context.changes.notify)
    return await _worker(session, account, family, now, context)


@router.post("/api/accounts/{account_id}/workers/{family}/resume", responses={404: {}})
async def resume_worker(
    family: Family,
    account: AccountDep,
    user: OperatorUser,
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
) -> WorkerOut:
    """Lift a worker's pause (after repeated failures) so the scheduler sends it again."""
    await SyncRepository(session).resume(account.id, family, now)
    after_commit(session, context.changes.notify)
    return await _worker(session, account, family, now, context)


@router.post(
    "/api/accounts/{account_id}/workers/{family}/run",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {}, **CONFLICT},
)
async def run_worker_now(
    family: Family,
    account: AccountDep,
    user: OperatorUser,
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
) -> RunQueuedOut:
    """Send the pair's next window now, as the scheduler would; returns the run id at once
    (the run itself is asynchronous: watch it under /api/runs/{run_id})."""
    result = await run_now(context, session, account, family, now)
    if result.command is None:
        raise HTTPException(status.HTTP_409_CONFLICT, result.detail)
    return _queued(result)


@router.post(
    "/api/accounts/{account_id}/workers/run",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {}},
)
async def run_all_workers(
    account: AccountDep, user: OperatorUser, session: SessionDep, now: NowDep, context: ContextDep
) -> list[RunAllItem]:
    """Run now every synced family of the account; says per family what happened."""
    items = []
    for family in sorted(families_of(account.purpose)):
        result = await run_now(context, session, account, family, now)
        items.append(
            RunAllItem(
                family=str(family),
                outcome=result.outcome,
                detail=result.detail,
                run=_queued(result) if result.command else None,
            )
        )
    return items


@router.post(
    "/api/accounts/{account_id}/families/{family}/repair",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {}, **CONFLICT},
)
async def repair_worker(
    family: Family,
    account: AccountDep,
    user: AdminUser,
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
    body: RepairIn | None = None,
) -> RepairOut:
    """After a bad page: move the pair's cursor back to ``since`` (default: the family's
    backfill start) and re-sync from there, as ``ebaysync repair`` does; recorded as a run
    with trigger ``repair`` and your email."""
    result = await repair_pair(
        session,
        context.broker,
        context.tracer,
        account=account,
        family=family,
        since=body.since if body else None,
        now=now,
        policy=context.settings.window.policy(family),
        paused=await paused_for(context, account.org_id),
        requested_by=user.email,
        publish_timeout=context.settings.nats.publish_timeout_seconds,
    )
    if result.outcome in ("blocked", "in_flight"):
        raise HTTPException(status.HTTP_409_CONFLICT, result.detail)
    context.changes.notify()
    return RepairOut(
        outcome="queued" if result.command else "reset",
        detail=result.detail,
        cursor=result.cursor,
        run=_queued(RunResult("queued", result.detail, result.command)) if result.command else None,
    )


@router.get("/api/accounts/{account_id}/schedule", responses={404: {}})
async def schedule(
    account: AccountDep, session: SessionDep, now: NowDep, context: ContextDep
) -> list[ScheduleOut]:
    """When each worker is due next and the windows it will fetch from then on, planned by
    the scheduler's own planner and settings."""
    paused = await paused_for(context, account.org_id)
    return await schedule_for(session, account, now, context.settings, paused)


async def _worker(
    session: SessionDep, account: EbayAccount, family: Family, now: NowDep, context: ContextDep
) -> WorkerOut:
    paused = await paused_for(context, account.org_id)
    workers = await workers_for(session, [account], now, context.settings, paused)
    return next(w for w in workers if w.family == family)


def _queued(result: RunResult) -> RunQueuedOut:
    assert result.command is not None
    command = result.command
    return RunQueuedOut(
        run_id=command.run_id,
        account_id=command.account_id,
        family=str(command.family),
        window_from=command.window_from,
        window_to=command.window_to,
    )
