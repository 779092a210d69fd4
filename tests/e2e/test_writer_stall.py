"""A writer paused (SIGSTOP) past the stale threshold during a backfill, as a GC pause, a frozen
VM or a slow disk would (issue 16 item 11): the scheduler fences the stalled runs off and sends
newer windows; at no moment does a pair hold two open runs; no page of a fenced-off run commits
after it was superseded; the mirror ends equal to eBay, no row ended that exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from embedded_servers import find_free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.families import Family
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.verify import verify
from testkit.progress import caught_up, differences
from testkit.system import started_runtime
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres, pytest.mark.timeout(900)]

SELLERS = 2
STALE_SECONDS = 6
SETTLE_LAG = timedelta(seconds=60)
CADENCE = timedelta(hours=1)

# Pairs holding more than one queued or running run.
DOUBLE_OPEN = text(
    """
    SELECT account_id, family FROM sync_runs WHERE status IN ('queued', 'running')
    GROUP BY account_id, family HAVING count(*) > 1
    """
)
# Pages of a superseded run that committed after it was superseded.
LATE_STALE_PAGES = text(
    """
    SELECT count(*) FROM sync_pages p JOIN sync_runs r USING (run_id)
    WHERE r.status = 'stale' AND p.committed_at > r.finished_at
    """
)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        admin_port=find_free_port(),
        sellers=SELLERS,
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            "SCHEDULER_CADENCE_SECONDS": str(CADENCE.total_seconds()),
            "SCHEDULER_SNAPSHOT_CADENCE_SECONDS": str(CADENCE.total_seconds()),
            "SCHEDULER_SETTLE_LAG_SECONDS": str(SETTLE_LAG.total_seconds()),
            "SCHEDULER_OVERLAP_SECONDS": "3600",
            # Many short windows: the backfill is still running when the writer stops.
            "SCHEDULER_MAX_WINDOW_DAYS": "3",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "60",
            "SCHEDULER_STALE_RUN_SECONDS": str(STALE_SECONDS),
            "OTEL_LOG_FORMAT": "text",
        },
        # A frozen clock: the stale rule must still see runs stop moving (it runs on the
        # database's clock, not the sandbox's).
        sandbox_env={"SANDBOX_CLOCK_FROZEN": "true", "SANDBOX_PROFILE": "tiny,small"},
    )
    async with started_runtime(options) as runtime:
        yield runtime


async def watch_double_open(
    sessions: async_sessionmaker[AsyncSession], seen: list[tuple[int, str]]
) -> None:
    while True:
        async with sessions() as session:
            seen.extend((r.account_id, r.family) for r in await session.execute(DOUBLE_OPEN))
        await asyncio.sleep(0.2)


async def runs_with(sessions: async_sessionmaker[AsyncSession], status: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM sync_runs WHERE status = :status"), {"status": status}
        )
        return int(found or 0)


async def test_a_writer_stalled_past_the_stale_threshold_never_lets_old_pages_win(
    runtime: Runtime,
) -> None:
    assert runtime.info is not None
    engine = create_async_engine(runtime.info.database_url, pool_pre_ping=True)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    doubles: list[tuple[int, str]] = []
    watcher = asyncio.create_task(watch_double_open(sessions, doubles))
    writer_pid = runtime.supervisor.children["writer"].pid
    assert writer_pid is not None
    stopped = False
    try:
        async with httpx.AsyncClient(base_url=runtime.info.sandbox_url, timeout=60) as sandbox:

            async def backfilling() -> bool:
                return await runs_with(sessions, "succeeded") >= 3

            await eventually(backfilling, within=180, what="the backfill under way")
            os.kill(writer_pid, signal.SIGSTOP)
            stopped = True

            async def superseded() -> bool:
                return await runs_with(sessions, "stale") > 0

            # While the writer is stopped the scheduler fences stalled runs off (it sends newer
            # windows for their pairs) once they have not moved for the stale threshold.
            await eventually(superseded, within=120, what="a stalled run fenced off")
            await asyncio.sleep(2 * STALE_SECONDS)
            os.kill(writer_pid, signal.SIGCONT)
            stopped = False

            async def done() -> bool:
                return await caught_up(
                    sessions, sandbox, accounts=SELLERS, settle_lag=SETTLE_LAG, cadence=CADENCE
                )

            await eventually(done, within=600, what="catch-up after the stall")
            reports = await verify(sessions, sandbox)
            async with sessions() as session:
                late_pages = int(await session.scalar(LATE_STALE_PAGES) or 0)
            stale_runs = await runs_with(sessions, "stale")
    finally:
        if stopped:
            os.kill(writer_pid, signal.SIGCONT)  # a stopped process cannot even be terminated
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await engine.dispose()
    assert doubles == []
    assert stale_runs > 0
    assert late_pages == 0
    assert differences(reports) == []
    assert len(reports) == SELLERS * len(Family)
