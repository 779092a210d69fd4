"""Background jobs: one registry (``background_jobs``, :mod:`common.db.ops`), one runner.

Every periodic job of ebaysync is named here with the service that owns it. The owner runs a
:class:`JobRunner`: at start it registers its jobs (interval from its settings), then every
``poll`` it tries to claim each job. A claim succeeds for one replica only, and only when the
job is enabled and due (its interval passed, or an operator asked for a run), so enable,
disable and "run now" set through the admin API hold across all replicas within one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.ops import JobRepository

log = logging.getLogger(__name__)

# Every periodic job and its owner. The scheduler's tick is not one: it is the sync itself,
# paused by pause-all, not by a job switch.
TOKEN_SWEEP = "token_sweep"
HEALTH_CHECK = "health_check"
RETENTION_PURGE = "retention_purge"
# eBay push: destination and subscriptions created, repaired, removed (docs/adr/0018).
PUSH_SUBSCRIPTIONS = "push_subscriptions"
# The application's call limits read from eBay (Developer Analytics) for the budget.
QUOTA_READ = "quota_read"
JOB_OWNERS: dict[str, str] = {
    QUOTA_READ: "token-service",
    TOKEN_SWEEP: "token-service",
    HEALTH_CHECK: "token-service",
    RETENTION_PURGE: "admin-api",
    PUSH_SUBSCRIPTIONS: "admin-api",
}
# A run that has not finished after this long (at least; or two intervals, if longer) is
# taken to have crashed with its replica, so a kill -9 mid-run stalls the job only that long.
STUCK_AFTER = timedelta(minutes=10)


def stuck_after(interval: timedelta) -> timedelta:
    return max(STUCK_AFTER, 2 * interval)


@dataclass(frozen=True)
class Job:
    name: str
    interval: timedelta
    # Does the work and answers a one-line summary for the jobs card (no secret in it).
    run: Callable[[], Awaitable[str]]
    # A newly registered job runs at once, else one interval after its registration.
    run_at_once: bool = False


class JobRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jobs: Sequence[Job],
        clock: Callable[[], datetime],
        *,
        poll: timedelta = timedelta(seconds=5),
    ) -> None:
        unknown = [job.name for job in jobs if job.name not in JOB_OWNERS]
        if unknown:
            raise ValueError(f"jobs not in common.jobs.JOB_OWNERS: {unknown}")
        self._sessions = sessions
        self._jobs = list(jobs)
        self._clock = clock
        self._poll = poll
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def register(self) -> None:
        async with self._sessions.begin() as session:
            repo = JobRepository(session)
            for job in self._jobs:
                now = self._clock()
                first = now if job.run_at_once else now + job.interval
                await repo.register(job.name, JOB_OWNERS[job.name], job.interval, first)

    async def tick(self) -> list[str]:
        """Run every job this replica could claim; answers their names."""
        ran = []
        for job in self._jobs:
            now = self._clock()
            async with self._sessions.begin() as session:
                claimed = await JobRepository(session).claim(
                    job.name, now, stuck_after(job.interval)
                )
            if not claimed:
                continue
            ran.append(job.name)
            started = time.monotonic()
            try:
                result, ok = await job.run(), True
            except Exception as exc:  # the job fails, the runner and the other jobs go on
                log.exception("background job %s failed", job.name)
                result, ok = f"{type(exc).__name__}: {exc}", False
            duration_ms = int((time.monotonic() - started) * 1000)
            async with self._sessions.begin() as session:
                await JobRepository(session).finish(job.name, now, ok, result, duration_ms)
        return ran

    async def run_forever(self) -> None:
        registered = False
        while not self._stopping.is_set():
            try:
                if not registered:
                    await self.register()
                    registered = True
                await self.tick()
            except Exception:  # the database restarting must not end the jobs
                log.exception("background jobs: tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll.total_seconds())

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever())

    async def stop(self, grace: timedelta = timedelta(seconds=10)) -> None:
        """Let the run under way finish (up to ``grace``), then cancel it: cancelling a
        database call midway would leave its connection broken behind the pool's back."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace.total_seconds())
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
