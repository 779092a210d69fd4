"""Token health per account, the refresh log, and a forced refresh. Never a token itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from admin_api.commands import BusError, request_access_token
from admin_api.dependencies import (
    AccountDep,
    ContextDep,
    CurrentUser,
    NowDep,
    OperatorUser,
    SessionDep,
    SettingsDep,
)
from admin_api.schemas import ForceRefreshOut, RefreshLogOut, TokenStatusOut
from admin_api.views import token_statuses
from common.db.accounts import AccountRepository
from common.db.tokens import TokenRepository

router = APIRouter(tags=["tokens"])


@router.get("/api/tokens")
async def list_tokens(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> list[TokenStatusOut]:
    """Token health of every active account of the org."""
    accounts = await AccountRepository(session).list_active_for_org(user.org_id)
    soon = timedelta(days=settings.token_expiring_soon_days)
    return await token_statuses(session, accounts, now, soon)


@router.get("/api/accounts/{account_id}/token", responses={404: {}})
async def get_token_status(
    account: AccountDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> TokenStatusOut:
    soon = timedelta(days=settings.token_expiring_soon_days)
    return (await token_statuses(session, [account], now, soon))[0]


@router.get("/api/accounts/{account_id}/token/refresh-log", responses={404: {}})
async def refresh_log(
    account: AccountDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RefreshLogOut]:
    """Every refresh of the account's access token, newest first."""
    entries = await TokenRepository(session).refresh_log(account.id, limit)
    return [RefreshLogOut.model_validate(e) for e in entries]


@router.post("/api/accounts/{account_id}/token/refresh", responses={404: {}, 503: {}})
async def force_refresh(
    account: AccountDep,
    user: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
    now: NowDep,
) -> ForceRefreshOut:
    """Ask the token service to refresh now; answers the outcome, not the token."""
    try:
        reply = await request_access_token(
            context.broker,
            account.id,
            settings.token_request_timeout_seconds,
            force_refresh=True,
        )
    except BusError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    session.expire_all()
    await session.refresh(account)
    soon = timedelta(days=settings.token_expiring_soon_days)
    context.changes.notify()
    return ForceRefreshOut(
        refreshed=reply.access_token is not None,
        error=str(reply.error) if reply.error else None,
        error_detail=reply.error_detail,
        token=(await token_statuses(session, [account], now, soon))[0],
    )
