"""Where a whole system's sync stands: for end-to-end tests that wait for it and judge it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.sync import OPEN_RUN_STATUSES, SyncRun, SyncState
from common.families import SNAPSHOT_FAMILIES, Family
from ebaysync.verify import PairReport


async def sandbox_now(sandbox: httpx.AsyncClient) -> datetime:
    """The sandbox's clock, which the scheduler plans in."""
    return datetime.fromisoformat((await sandbox.get("/sandbox/clock")).json()["now"])


async def caught_up(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: httpx.AsyncClient,
    *,
    accounts: int,
    settle_lag: timedelta,
    cadence: timedelta,
    snapshots_since: datetime | None = None,
) -> bool:
    """Every pair of ``accounts`` accounts is caught up and nothing is in flight.

    A window is caught up when less than a cadence is left to fetch (the scheduler's own rule);
    a snapshot when it succeeded (since ``snapshots_since``, in the writer's real time).
    """
    now = await sandbox_now(sandbox)
    async with sessions() as session:
        open_runs = await session.scalar(
            select(func.count()).select_from(SyncRun).where(SyncRun.status.in_(OPEN_RUN_STATUSES))
        )
        states = list(await session.scalars(select(SyncState)))

    def done(state: SyncState) -> bool:
        if state.family in SNAPSHOT_FAMILIES:
            return state.last_success_at is not None and (
                snapshots_since is None or state.last_success_at >= snapshots_since
            )
        return state.cursor is not None and state.cursor > now - settle_lag - cadence

    finished = sum(done(state) for state in states)
    return open_runs == 0 and finished == accounts * len(Family)


def differences(reports: list[PairReport]) -> list[str]:
    """The pairs ``verify`` found unequal (or could not compare), a line each."""
    return [
        f"{r.username} {r.family}: missing {r.missing[:3]} extra {r.extra[:3]} "
        f"different {[d.key for d in r.different[:3]]} duplicates {r.duplicate_events[:3]}"
        for r in reports
        if not r.clean or r.skipped
    ]
