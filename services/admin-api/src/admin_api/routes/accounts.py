"""Accounts of the caller's org: list, get, rename, deactivate, and OAuth connect."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import IntegrityError

from admin_api import connect
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
from admin_api.schemas import (
    AccountOut,
    AccountPatch,
    ConnectIn,
    ConnectOut,
    PurposeIn,
    PurposeOut,
)
from common.db.accounts import AccountRepository
from common.db.tokens import TokenRepository
from common.ebay.scopes import scopes_for
from common.families import Purpose

router = APIRouter(prefix="/api/accounts", tags=["accounts"])


@router.get("")
async def list_accounts(
    user: CurrentUser, session: SessionDep, include_inactive: bool = False
) -> list[AccountOut]:
    accounts = AccountRepository(session)
    if include_inactive:
        found = await accounts.list_for_org(user.org_id)
    else:
        found = await accounts.list_active_for_org(user.org_id)
    return [AccountOut.model_validate(a) for a in found]


@router.get("/{account_id}", responses={404: {}})
async def get_account(account: AccountDep) -> AccountOut:
    return AccountOut.model_validate(account)


@router.patch("/{account_id}", responses={404: {}, 409: {}})
async def rename_account(
    body: AccountPatch, account: AccountDep, user: OperatorUser, session: SessionDep
) -> AccountOut:
    """Rename; house names are unique among the org's active accounts."""
    house_name = body.house_name.strip()
    taken = await AccountRepository(session).house_name_taken(
        account.org_id, house_name, exclude_id=account.id
    )
    if taken and account.active:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"an active account is already called {house_name!r}"
        )
    account.house_name = house_name
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent rename took the name
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"an active account is already called {house_name!r}"
        ) from exc
    return AccountOut.model_validate(account)


@router.post("/{account_id}/deactivate", responses={404: {}})
async def deactivate_account(
    account: AccountDep, admin: AdminUser, session: SessionDep, now: NowDep, context: ContextDep
) -> AccountOut:
    """Stop syncing the account; its data stays. Reconnecting it reactivates it."""
    if account.active:
        account.active = False
        account.deactivated_at = now
        after_commit(session, context.changes.notify)
    return AccountOut.model_validate(account)


@router.put("/{account_id}/purpose", responses={404: {}})
async def set_purpose(
    body: PurposeIn, account: AccountDep, admin: AdminUser, session: SessionDep, context: ContextDep
) -> PurposeOut:
    """Choose which families the account syncs (seller, buyer, both); the scheduler follows at
    its next tick. ``missing_scopes``: what the seller's grant lacks for it (Reconnect)."""
    account.purpose = body.purpose
    after_commit(session, context.changes.notify)
    granted = await TokenRepository(session).statuses([account.id])
    have = set(granted[account.id].scopes.split()) if account.id in granted else set()
    return PurposeOut(
        **AccountOut.model_validate(account).model_dump(),
        missing_scopes=[s for s in scopes_for(body.purpose).split() if s not in have],
    )


@router.post("/connect", responses={409: {}, 422: {}})
async def start_connect(
    body: ConnectIn, user: OperatorUser, session: SessionDep, now: NowDep, context: ContextDep
) -> ConnectOut:
    """Start connecting a new eBay account: open ``authorize_url`` in the browser; eBay sends
    the seller back to ``/api/oauth/callback``."""
    return await _consent_url(
        connect.start(
            context,
            session,
            user,
            now,
            house_name=body.house_name.strip(),
            environment=body.environment,
            purpose=body.purpose,
        )
    )


@router.post("/{account_id}/reconnect", responses={404: {}, 422: {}})
async def start_reconnect(
    account: AccountDep, user: OperatorUser, session: SessionDep, now: NowDep, context: ContextDep
) -> ConnectOut:
    """Renew the seller's consent (after "needs reauth"); the same eBay user must sign in."""
    return await _consent_url(
        connect.start(
            context,
            session,
            user,
            now,
            house_name=None,
            environment=account.environment,
            purpose=Purpose(account.purpose),
            account=account,
        )
    )


async def _consent_url(started: Awaitable[tuple[str, datetime]]) -> ConnectOut:
    """The consent URL of a started connect; a refused one answers its status."""
    try:
        url, expires_at = await started
    except connect.ConnectError as exc:
        raise HTTPException(exc.status_code, exc.detail) from exc
    return ConnectOut(authorize_url=url, expires_at=expires_at)
