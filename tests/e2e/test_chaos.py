"""Crash safety: kill -9 every service at random moments during a backfill, restart NATS and
PostgreSQL once, and the mirror still equals eBay with no history doubled and no cursor moved
back.

``make test`` runs a short version; ``make chaos`` the full one (``CHAOS_ROUNDS``,
``CHAOS_SELLERS`` and ``CHAOS_SEED`` override it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from embedded_servers import find_free_port
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.db.sync import SyncState
from common.families import Family
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.verify import verify
from testkit.progress import caught_up, differences
from testkit.system import started_runtime
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

# Read once here: the knobs of `make chaos`.
_ENV = os.environ  # noqa: TID251
ROUNDS = int(_ENV.get("CHAOS_ROUNDS", "8"))
SELLERS = int(_ENV.get("CHAOS_SELLERS", "8"))
SEED = int(_ENV.get("CHAOS_SEED", "7"))
VICTIMS = ("fetcher", "writer", "token-service", "scheduler")
SETTLE_LAG = timedelta(seconds=60)
CADENCE = timedelta(hours=1)


@dataclass
class CursorLog:
    """Every cursor value seen, per pair, in the order seen."""

    seen: dict[tuple[int, str], list[datetime]] = field(default_factory=dict)

    def record(self, account_id: int, family: str, cursor: datetime) -> None:
        history = self.seen.setdefault((account_id, family), [])
        if not history or history[-1] != cursor:
            history.append(cursor)

    def moved_back(self) -> list[tuple[int, str]]:
        return [pair for pair, values in self.seen.items() if values != sorted(values)]


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    # Its own NATS and PostgreSQL: the test restarts both.
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
            "SCHEDULER_MAX_WINDOW_DAYS": "10",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "90",
            # A killed run is picked up again soon: windows and pages redeliver after 10 s.
            "SCHEDULER_STALE_RUN_SECONDS": "60",
            "OTEL_LOG_FORMAT": "text",
        },
        sandbox_env={"SANDBOX_CLOCK_FROZEN": "true", "SANDBOX_PROFILE": "tiny,small"},
    )
    async with started_runtime(options) as runtime:
        yield runtime


async def sample_cursors(sessions: async_sessionmaker[AsyncSession], log_: CursorLog) -> None:
    while True:
        with contextlib.suppress(Exception):  # PostgreSQL is restarted on purpose
            async with sessions() as session:
                for state in await session.scalars(select(SyncState)):
                    if state.cursor is not None:
                        log_.record(state.account_id, state.family, state.cursor)
        await asyncio.sleep(0.3)


async def backfill_done(
    sessions: async_sessionmaker[AsyncSession], sandbox: httpx.AsyncClient
) -> bool:
    return await caught_up(
        sessions, sandbox, accounts=SELLERS, settle_lag=SETTLE_LAG, cadence=CADENCE
    )


async def havoc(
    runtime: Runtime, rng: random.Random, backfill_done: Callable[[], Awaitable[bool]]
) -> list[str]:
    """Kill services at random moments; restart NATS and PostgreSQL once, midway.

    The first kill must land while the backfill still runs, or this would prove nothing.
    """
    done: list[str] = []
    for round_no in range(ROUNDS):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        victim = (
            VICTIMS[round_no % len(VICTIMS)] if round_no < len(VICTIMS) else rng.choice(VICTIMS)
        )
        pid = runtime.supervisor.children[victim].pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            done.append(f"kill -9 {victim}")
        if round_no == 0:
            assert not await backfill_done(), "the backfill ended before the first kill"
        if round_no == ROUNDS // 2:
            assert runtime.nats is not None and runtime.postgres is not None
            await asyncio.to_thread(runtime.nats.stop)
            await asyncio.to_thread(runtime.nats.start)
            done.append("restart nats")
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            await asyncio.to_thread(runtime.postgres.stop)
            await asyncio.to_thread(runtime.postgres.start)
            done.append("restart postgres")
    return done


async def test_kill_9_and_server_restarts_during_a_backfill_lose_and_double_nothing(
    runtime: Runtime,
) -> None:
    assert runtime.info is not None
    engine = create_async_engine(runtime.info.database_url, pool_pre_ping=True)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    cursors = CursorLog()
    sampler = asyncio.create_task(sample_cursors(sessions, cursors))
    try:
        async with httpx.AsyncClient(base_url=runtime.info.sandbox_url, timeout=60) as sandbox:
            started = time.monotonic()
            actions = await havoc(
                runtime, random.Random(SEED), lambda: backfill_done(sessions, sandbox)
            )
            havoc_seconds = time.monotonic() - started
            assert sum(a.startswith("kill") for a in actions) >= len(VICTIMS)
            await eventually(
                lambda: backfill_done(sessions, sandbox),
                within=900,
                what="recovery and catch-up",
            )
            recovered_seconds = time.monotonic() - started
            reports = await verify(sessions, sandbox)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await engine.dispose()
    assert differences(reports) == []
    assert len(reports) == SELLERS * len(Family)
    assert cursors.seen, "the sampler should have seen cursors move"
    assert cursors.moved_back() == []
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "chaos.json").write_text(
        json.dumps(
            {
                "sellers": SELLERS,
                "rounds": ROUNDS,
                "seed": SEED,
                "actions": actions,
                "havoc_seconds": round(havoc_seconds, 1),
                "caught_up_after_seconds": round(recovered_seconds, 1),
                "pairs_verified": len(reports),
                "records_compared": sum(r.compared for r in reports),
                "cursor_values_sampled": sum(len(v) for v in cursors.seen.values()),
            },
            indent=2,
        )
    )
