"""Operations: account health checks, the background jobs card, and token scopes, a masked
refresh preview and the masked capture of the last failed refresh. Never a token, never the
client secret: every body here is built from masked values (common.ebay.oauth_requests)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status

from admin_api.dependencies import (
    AccountDep,
    AdminUser,
    NowDep,
    OperatorUser,
    SessionDep,
    SettingsDep,
)
from admin_api.schemas import Schema
from common.db.ops import BackgroundJob, HealthRepository, JobRepository
from common.db.tokens import EbayToken, TokenRepository
from common.ebay.oauth_requests import refresh_preview
from common.ebay.scopes import SCOPE_STRING, scope_needs

router = APIRouter(tags=["operations"])


class HealthEventOut(Schema):
    id: int
    checked_at: datetime
    ok: bool
    http_status: int | None
    error: str | None
    latency_ms: int | None
    username: str | None


class AccountHealthOut(Schema):
    account_id: int
    # The latest check: ok, failing, or unknown (never checked).
    status: Literal["ok", "failing", "unknown"]
    # The username getUser answered differs from the one the account was connected as.
    username_mismatch: bool
    events: list[HealthEventOut]


class JobOut(Schema):
    name: str
    service: str
    interval_seconds: float
    enabled: bool
    next_run_at: datetime
    run_requested_at: datetime | None
    running_since: datetime | None
    last_run_at: datetime | None
    last_ok: bool | None
    last_result: str | None
    last_duration_ms: int | None


class ScopeNeedOut(Schema):
    needed_by: str
    scopes: list[str]
    granted: bool


class TokenScopesOut(Schema):
    account_id: int
    # What eBay named in the token response's scope field; None when it sent none, which means
    # it granted what was asked (``requested``).
    granted_scopes: list[str] | None
    granted_source: Literal["token_response", "as_requested", "not_connected"]
    requested_scopes: list[str]
    needs: list[ScopeNeedOut]
    missing: list[str]
    warning: str | None


class RefreshFailureOut(Schema):
    account_id: int
    refresh_error: str | None
    capture: dict[str, Any] | None


@router.get("/api/accounts/{account_id}/health", responses={404: {}})
async def account_health(
    account: AccountDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> AccountHealthOut:
    """The account's latest health checks (Identity getUser), newest first."""
    events = await HealthRepository(session).latest(account.id, limit)
    latest = events[0] if events else None
    return AccountHealthOut(
        account_id=account.id,
        status="unknown" if latest is None else "ok" if latest.ok else "failing",
        username_mismatch=bool(latest and latest.username and latest.username != account.username),
        events=[HealthEventOut.model_validate(e) for e in events],
    )


# --- background jobs (deployment-wide: one registry for all orgs) ------------------------------


@router.get("/api/jobs")
async def list_jobs(admin: AdminUser, session: SessionDep) -> list[JobOut]:
    """Every registered background job with its interval, switch, last and next run. Admins
    only: jobs and their results span every org of the deployment."""
    return [JobOut.model_validate(j) for j in await JobRepository(session).list()]


async def _job(session: SessionDep, name: str) -> JobOut:
    row: BackgroundJob | None = await JobRepository(session).get(name)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no background job {name!r}")
    return JobOut.model_validate(row)


@router.post("/api/jobs/{name}/enable", responses={404: {}})
async def enable_job(name: str, admin: AdminUser, session: SessionDep) -> JobOut:
    if not await JobRepository(session).set_enabled(name, True):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no background job {name!r}")
    return await _job(session, name)


@router.post("/api/jobs/{name}/disable", responses={404: {}})
async def disable_job(name: str, admin: AdminUser, session: SessionDep) -> JobOut:
    """No replica starts the job again until it is enabled (a run under way finishes)."""
    if not await JobRepository(session).set_enabled(name, False):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no background job {name!r}")
    return await _job(session, name)


@router.post("/api/jobs/{name}/run", responses={404: {}})
async def run_job(name: str, admin: AdminUser, session: SessionDep, now: NowDep) -> JobOut:
    """Ask for a run now: one replica of the owner runs it within its poll interval (if the
    job is enabled); the answer shows ``run_requested_at`` until then."""
    if not await JobRepository(session).request_run(name, now):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no background job {name!r}")
    return await _job(session, name)


# --- tokens: scopes, preview, last failure ------------------------------------------------------


async def _token(session: SessionDep, account_id: int) -> EbayToken | None:
    return await TokenRepository(session).get(account_id)


@router.get("/api/accounts/{account_id}/token/scopes", responses={404: {}})
async def token_scopes(account: AccountDep, session: SessionDep) -> TokenScopesOut:
    """The scopes eBay granted next to those the families need, with a warning per gap."""
    token = await _token(session, account.id)
    if token is None:
        source: Literal["token_response", "as_requested", "not_connected"] = "not_connected"
        granted: str | None = None
        effective = ""
    elif token.granted_scopes is not None:
        source, granted, effective = "token_response", token.granted_scopes, token.granted_scopes
    else:
        source, granted, effective = "as_requested", None, token.scopes
    needs = scope_needs(effective)
    missing = [n.needed_by for n in needs if not n.granted]
    warning = None
    if token is not None and missing:
        warning = (
            f"eBay did not grant the scopes {', '.join(missing)} need"
            ": these calls will be refused until the seller reconnects and grants them"
        )
    return TokenScopesOut(
        account_id=account.id,
        granted_scopes=None if granted is None else granted.split(),
        granted_source=source,
        requested_scopes=(token.scopes if token else SCOPE_STRING).split(),
        needs=[
            ScopeNeedOut(needed_by=n.needed_by, scopes=list(n.scopes), granted=n.granted)
            for n in needs
        ],
        missing=missing,
        warning=warning,
    )


@router.get("/api/accounts/{account_id}/token/preview-refresh", responses={404: {}})
async def preview_refresh(
    account: AccountDep, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """The refresh request the token service would send for this account, masked, without
    sending it (the refresh token is not even read)."""
    token = await _token(session, account.id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the account has no tokens")
    preview = refresh_preview(settings.ebay.api_base_url, settings.ebay.client_id, token.scopes)
    return {"account_id": account.id, "sent": False, **preview}


@router.get("/api/accounts/{account_id}/token/last-failure", responses={404: {}})
async def last_refresh_failure(
    account: AccountDep, user: OperatorUser, session: SessionDep
) -> RefreshFailureOut:
    """The last failed refresh as sent and answered (masked headers, eBay's error body)."""
    token = await _token(session, account.id)
    return RefreshFailureOut(
        account_id=account.id,
        refresh_error=token.refresh_error if token else None,
        capture=token.last_refresh_failure if token else None,
    )
