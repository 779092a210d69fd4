"""Live updates by server-sent events: a snapshot whenever something changed.

Each stream re-reads the database every ``live_poll_seconds`` and at once when a run completes
(``sync.run.completed.>``) or an operator acts, and sends an event only when the snapshot
differs from the last one sent. Every read uses its own short session. A user holds at most
``ADMIN_API_LIVE_STREAMS_PER_USER`` streams at once (per replica); one more is a 429.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from admin_api.context import AdminContext
from admin_api.dependencies import AccountDep, ContextDep, CurrentUser, SessionDep
from admin_api.live import StreamSlot
from admin_api.runner import paused_for
from admin_api.schemas import RunDetailOut, RunOut, WorkerOut
from admin_api.views import run_detail, workers_for
from common.db.accounts import AccountRepository
from common.db.sync import RunQuery, SyncRepository

router = APIRouter(tags=["live"])

SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "a stream of events"}
}


class AccountSnapshot(BaseModel):
    paused: bool
    workers: list[WorkerOut]
    runs: list[RunOut]


@router.get("/api/accounts/{account_id}/live", response_class=EventSourceResponse, responses=SSE)
async def account_live(
    request: Request,
    account: AccountDep,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> EventSourceResponse:
    """Event ``snapshot`` (an ``AccountSnapshot``): the account's workers, pause-all and its 20
    latest runs, sent at once and again on every change."""
    account_id, org_id = account.id, user.org_id
    slot = _slot(context, user.id)
    await session.close()  # the stream reads with sessions of its own

    async def snapshot() -> BaseModel | None:
        now = datetime.now(UTC)
        async with context.sessions() as session:
            current = await AccountRepository(session).get_for_org(org_id, account_id)
            if current is None:
                return None
            paused = await paused_for(context, org_id)
            workers = await workers_for(session, [current], now, context.settings, paused)
            runs = await SyncRepository(session).list_runs([account_id], RunQuery(limit=20))
            return AccountSnapshot(
                paused=paused, workers=workers, runs=[RunOut.model_validate(r) for r in runs]
            )

    return _response(request, context, snapshot, slot)


@router.get("/api/runs/{run_id}/live", response_class=EventSourceResponse, responses=SSE)
async def run_live(
    request: Request, run_id: UUID, user: CurrentUser, session: SessionDep, context: ContextDep
) -> EventSourceResponse:
    """Event ``snapshot`` (a ``RunDetailOut``): the run with its pages, on every change."""
    if await run_detail(session, user.org_id, run_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {run_id} not found")
    slot = _slot(context, user.id)
    await session.close()  # the stream reads with sessions of its own
    org_id = user.org_id

    async def snapshot() -> RunDetailOut | None:
        async with context.sessions() as own:
            return await run_detail(own, org_id, run_id, context.settings.trace_url_template)

    return _response(request, context, snapshot, slot)


def _slot(context: AdminContext, user_id: int) -> StreamSlot:
    slot = context.streams.acquire(user_id)
    if slot is None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"at most {context.settings.live_streams_per_user} live streams per user: "
            "close one first",
            headers={"Retry-After": "5"},
        )
    return slot


def _response(
    request: Request,
    context: AdminContext,
    snapshot: Callable[[], Awaitable[BaseModel | None]],
    slot: StreamSlot,
) -> EventSourceResponse:
    # Released when the stream ends, and again (harmlessly) after the response, which also
    # covers a client gone before the stream's first event.
    return EventSourceResponse(
        _stream(request, context, snapshot, slot), ping=15, background=BackgroundTask(slot.release)
    )


async def _stream(
    request: Request,
    context: AdminContext,
    snapshot: Callable[[], Awaitable[BaseModel | None]],
    slot: StreamSlot,
) -> AsyncIterator[ServerSentEvent]:
    try:
        last = ""
        while not await request.is_disconnected():
            current = await snapshot()
            if current is None:
                yield ServerSentEvent(event="gone", data="{}")
                return
            data = current.model_dump_json()
            if data != last:
                last = data
                yield ServerSentEvent(event="snapshot", data=data)
            await context.changes.wait(context.settings.live_poll_seconds)
    finally:
        slot.release()
