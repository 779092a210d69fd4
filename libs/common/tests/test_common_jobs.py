"""The background jobs registry and runner on a real PostgreSQL: once across replicas, the
operators' switch and "run now" honoured by every replica."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.ops import BackgroundJob, JobRepository
from common.jobs import RETENTION_PURGE, Job, JobRunner, stuck_after

pytestmark = pytest.mark.postgres


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Counting:
    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail

    async def __call__(self) -> str:
        self.runs += 1
        await asyncio.sleep(0.05)  # long enough for the other replica to try meanwhile
        if self.fail:
            raise RuntimeError("database gone")
        return f"run {self.runs}"


async def job_row(sessions: async_sessionmaker[AsyncSession]) -> BackgroundJob:
    async with sessions() as session:
        row = await JobRepository(session).get(RETENTION_PURGE)
    assert row is not None
    return row


@pytest.fixture
async def fresh(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await session.execute(delete(BackgroundJob).where(BackgroundJob.name == RETENTION_PURGE))


@pytest.mark.usefixtures("fresh")
async def test_two_replicas_run_a_due_job_once_and_then_wait_for_its_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, work = Clock(), Counting()
    job = Job(RETENTION_PURGE, timedelta(hours=1), work, run_at_once=True)
    replicas = [JobRunner(sessions, [job], clock), JobRunner(sessions, [job], clock)]
    for replica in replicas:
        await replica.register()
    ran = await asyncio.gather(*(r.tick() for r in replicas))
    assert sorted(ran) == [[], [RETENTION_PURGE]]
    assert work.runs == 1
    row = await job_row(sessions)
    assert row.last_ok and row.last_result == "run 1" and row.running_since is None
    assert row.last_run_at == clock.now and row.next_run_at == clock.now + timedelta(hours=1)

    clock.now += timedelta(minutes=59)
    assert await replicas[0].tick() == [] and await replicas[1].tick() == []
    clock.now += timedelta(minutes=1)
    assert await replicas[1].tick() == [RETENTION_PURGE]
    assert work.runs == 2


@pytest.mark.usefixtures("fresh")
async def test_a_disabled_job_never_runs_and_run_now_runs_it_early_on_any_replica(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, work = Clock(), Counting()
    job = Job(RETENTION_PURGE, timedelta(hours=1), work)
    one, other = JobRunner(sessions, [job], clock), JobRunner(sessions, [job], clock)
    await one.register()
    async with sessions.begin() as session:
        assert await JobRepository(session).set_enabled(RETENTION_PURGE, False)
    await other.register()  # a restart keeps the operators' switch
    clock.now += timedelta(days=1)
    assert await one.tick() == [] and await other.tick() == []
    async with sessions.begin() as session:
        assert await JobRepository(session).request_run(RETENTION_PURGE, clock.now)
    assert await other.tick() == []  # asked for, but disabled
    async with sessions.begin() as session:
        assert await JobRepository(session).set_enabled(RETENTION_PURGE, True)
    assert await other.tick() == [RETENTION_PURGE]
    assert work.runs == 1
    # Run now, well before the interval is over: the next tick of either replica runs it.
    clock.now += timedelta(minutes=5)
    async with sessions.begin() as session:
        await JobRepository(session).request_run(RETENTION_PURGE, clock.now)
    assert await one.tick() == [RETENTION_PURGE]
    assert (await job_row(sessions)).run_requested_at is None
    assert await other.tick() == []


@pytest.mark.usefixtures("fresh")
async def test_a_failing_job_records_its_error_and_runs_again_next_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, work = Clock(), Counting(fail=True)
    runner = JobRunner(sessions, [Job(RETENTION_PURGE, timedelta(minutes=10), work)], clock)
    await runner.register()
    assert await runner.tick() == []  # first due one interval after registration
    clock.now += timedelta(minutes=10)
    assert await runner.tick() == [RETENTION_PURGE]
    row = await job_row(sessions)
    assert row.last_ok is False and row.last_result == "RuntimeError: database gone"
    assert row.running_since is None
    clock.now += timedelta(minutes=10)
    assert await runner.tick() == [RETENTION_PURGE]


def test_only_registered_job_names_run() -> None:
    with pytest.raises(ValueError, match="JOB_OWNERS"):
        JobRunner(None, [Job("nightly_surprise", timedelta(hours=1), Counting())], Clock())  # type: ignore[arg-type]


@pytest.mark.usefixtures("fresh")
async def test_a_run_whose_replica_died_blocks_the_job_only_until_it_counts_as_stuck(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, work = Clock(), Counting()
    interval = timedelta(minutes=1)
    runner = JobRunner(sessions, [Job(RETENTION_PURGE, interval, work, run_at_once=True)], clock)
    await runner.register()
    async with sessions.begin() as session:  # a replica claims the run and is killed
        assert await JobRepository(session).claim(RETENTION_PURGE, clock.now, stuck_after(interval))
    clock.now += timedelta(minutes=9)
    assert await runner.tick() == []  # still "running" elsewhere
    clock.now += timedelta(minutes=1, seconds=1)
    assert await runner.tick() == [RETENTION_PURGE]
    assert work.runs == 1 and (await job_row(sessions)).running_since is None
    assert stuck_after(timedelta(hours=1)) == timedelta(hours=2)
