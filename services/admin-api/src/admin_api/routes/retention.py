"""Log retention: how much of the org's run and token logs is past retention, and the purge
(admin). Open runs and each worker's latest run are always kept; mirrored data and its change
history (``ebay_events``) are data, not logs, and are never purged here."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from admin_api.dependencies import AdminUser, CurrentUser, NowDep, SessionDep, SettingsDep
from admin_api.schemas import PurgeIn, RetentionOut
from common.db.admin import RetentionRepository

router = APIRouter(prefix="/api/retention", tags=["retention"])


@router.get("")
async def retention(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> RetentionOut:
    """What a purge with the configured retention would delete now."""
    cutoff = now - timedelta(days=settings.retention_days)
    counts = await RetentionRepository(session).count(user.org_id, cutoff)
    return RetentionOut(
        retention_days=settings.retention_days,
        cutoff=cutoff,
        sync_runs=counts.sync_runs,
        sync_pages=counts.sync_pages,
        token_refresh_log=counts.token_refresh_log,
    )


@router.post("/purge")
async def purge(
    body: PurgeIn, admin: AdminUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> RetentionOut:
    """Delete the org's runs, page receipts and token refresh log entries older than
    ``older_than_days`` (default: the configured retention); answers what was deleted."""
    days = body.older_than_days or settings.retention_days
    cutoff = now - timedelta(days=days)
    counts = await RetentionRepository(session).purge(admin.org_id, cutoff)
    return RetentionOut(
        retention_days=days,
        cutoff=cutoff,
        sync_runs=counts.sync_runs,
        sync_pages=counts.sync_pages,
        token_refresh_log=counts.token_refresh_log,
    )
