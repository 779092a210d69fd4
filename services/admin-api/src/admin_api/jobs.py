"""The admin API's own background jobs (common.jobs): the retention purge, for every org, and
the push subscriptions (admin_api.push_subscriptions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.push_subscriptions import SubscriptionManager
from admin_api.settings import AdminApiSettings
from common.db.accounts import Org
from common.db.admin import PurgeCounts, RetentionRepository
from common.db.ops import HealthRepository
from common.jobs import PUSH_SUBSCRIPTIONS, RETENTION_PURGE, Job, JobRunner


async def purge_all_orgs(
    sessions: async_sessionmaker[AsyncSession], retention: timedelta, now: datetime
) -> str:
    """What ``POST /api/retention/purge`` does for one org, for each org in turn; then the
    health checks past retention (they are logs too, of the whole deployment)."""
    cutoff = now - retention
    total = PurgeCounts(sync_pages=0, sync_runs=0, token_refresh_log=0)
    async with sessions() as session:
        orgs = list(await session.scalars(select(Org.id).order_by(Org.id)))
    for org_id in orgs:
        async with sessions.begin() as session:
            counts = await RetentionRepository(session).purge(org_id, cutoff)
        total = PurgeCounts(
            sync_pages=total.sync_pages + counts.sync_pages,
            sync_runs=total.sync_runs + counts.sync_runs,
            token_refresh_log=total.token_refresh_log + counts.token_refresh_log,
        )
    async with sessions.begin() as session:
        checks = await HealthRepository(session).purge(cutoff)
    return (
        f"{len(orgs)} orgs: {total.sync_runs} runs, {total.sync_pages} page receipts, "
        f"{total.token_refresh_log} refresh log entries, {checks} health checks purged"
    )


def job_runner(
    sessions: async_sessionmaker[AsyncSession],
    settings: AdminApiSettings,
    clock: Callable[[], datetime],
    subscriptions: SubscriptionManager | None = None,
) -> JobRunner:
    jobs = []
    if settings.retention_purge_seconds > 0:
        retention = timedelta(days=settings.retention_days)

        async def purge() -> str:
            return await purge_all_orgs(sessions, retention, clock())

        interval = timedelta(seconds=settings.retention_purge_seconds)
        jobs.append(Job(RETENTION_PURGE, interval, purge))
    push = settings.push
    if subscriptions is not None and push.enabled and push.subscriptions_seconds > 0:
        interval = timedelta(seconds=push.subscriptions_seconds)
        # At once: an account connected while no replica ran waits for nothing.
        jobs.append(Job(PUSH_SUBSCRIPTIONS, interval, subscriptions.run, run_at_once=True))
    return JobRunner(sessions, jobs, clock, poll=timedelta(seconds=settings.jobs_poll_seconds))


def start_jobs(
    sessions: async_sessionmaker[AsyncSession],
    settings: AdminApiSettings,
    clock: Callable[[], datetime],
    subscriptions: SubscriptionManager | None = None,
) -> JobRunner:
    runner = job_runner(sessions, settings, clock, subscriptions)
    runner.start()
    return runner


async def stop_jobs(runner: JobRunner | None) -> None:
    if runner is not None:
        await runner.stop()
