"""The scheduler's cost per tick on a realistic pair count, in the real embedded PostgreSQL/NATS.

    uv run python scripts/bench_plan.py [--pairs 100000] [--first-run-accounts 1000] [--json]

Seeds ``--pairs`` (account, family) pairs of seller accounts (every seller family the scheduler
plans), all caught up, then measures with the real :class:`scheduler.service.Scheduler` (its
SQL, planner, fencing, publisher and run records) three ticks:

* **first full plan**: a fresh scheduler's first tick over every pair with none due: planning
  alone, reading every pair and storing each pair's due time (once, after the migration);
* **full plan**: the same again, as the scheduler's periodic safety net does it (every pair
  read, the stored due times still right): the target, 100,000 pairs in < 1 s;
* **due tick**: ``--due`` of the pairs (default 1/60: a 5-minute cadence at 5-second ticks)
  were backfilling with a run in flight; their runs complete as the writer completes them,
  and the next tick plans and publishes their next windows (catch-up);
* **idle tick**: the tick after, with those pairs in flight: the steady planning cost;
* **first run**: ``--first-run-accounts`` accounts that never ran (11 pairs each, no state
  row), a fresh scheduler's first tick after start: every pair planned, fenced, published and
  recorded as queued in that one tick.

``publish ms/window`` is (due tick - idle tick) / windows published, in wall time and in this
process's CPU time (PostgreSQL and NATS run in their own processes and are not in the CPU
figure). ``--json`` prints one JSON object (the interface the whole-system bench calls).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from bench_servers import bench_servers
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from common.control import PauseSwitch
from common.db.migrate import upgrade_async
from common.families import PURPOSE_FAMILIES, Purpose
from common.heap import tune_collector
from common.settings import WindowSettings
from common.streams import BUCKETS, WINDOWS_STREAM, ensure_topology
from scheduler.lease import LeaderLease
from scheduler.service import Scheduler, window_publisher

TARGET_FULL_PLAN_SECONDS = 1.0


class Leader(LeaderLease):
    """Always the leader: a tick that outlasts the lease's TTL (the old scheduler's did on
    100,000 pairs) must not turn the measurement into a measurement of losing the lease."""

    def __init__(self) -> None:
        pass

    @property
    def held(self) -> bool:
        return True

    async def hold(self) -> bool:
        return True

    async def release(self) -> None:
        return None


async def seed_accounts(connection: AsyncConnection, accounts: int) -> None:
    """``accounts`` seller accounts of one org, in an emptied database."""
    await connection.execute(text("TRUNCATE ebay_accounts, orgs RESTART IDENTITY CASCADE"))
    org = (
        await connection.execute(text("INSERT INTO orgs (name) VALUES ('bench') RETURNING id"))
    ).scalar_one()
    await connection.execute(
        text(
            """
            INSERT INTO ebay_accounts (org_id, ebay_user_id, username, house_name,
                                       marketplace_id, site_id, environment, purpose)
            SELECT :org, 'user-' || n, 'seller_' || n, 'House ' || n, 'EBAY_US', 0,
                   'sandbox', 'seller'
            FROM generate_series(1, :accounts) AS n
            """
        ),
        {"org": org, "accounts": accounts},
    )


async def seed(engine: AsyncEngine, pairs: int, due: float, now: datetime) -> list[str]:
    """``pairs`` pairs of seller accounts times every seller family the scheduler plans (the
    last account may have fewer): caught up, except a ``due`` fraction that is backfilling (far
    behind, its run in flight). Returns the families."""
    policies = WindowSettings().policies()
    families = sorted(str(f) for f in policies if f in PURPOSE_FAMILIES[Purpose.SELLER])
    accounts = -(-pairs // len(families))
    async with engine.begin() as connection:
        await seed_accounts(connection, accounts)
        # Caught up: the cursor is where a window that just completed left it (due again in
        # minutes); the backfilling ones are days behind with a window in flight.
        await connection.execute(
            text(
                """
                INSERT INTO sync_state (account_id, family, cursor, last_success_at, updated_at)
                SELECT p.id, p.family,
                       CASE WHEN random() < :due THEN CAST(:behind AS timestamptz)
                            ELSE CAST(:caught_up AS timestamptz) END,
                       now(), now()
                FROM (SELECT a.id, f.family
                      FROM ebay_accounts a
                      CROSS JOIN unnest(CAST(:families AS text[])) AS f(family)
                      ORDER BY a.id, f.family LIMIT :pairs) AS p
                """
            ),
            {
                "due": due,
                "behind": now - timedelta(days=20),
                "caught_up": now - timedelta(seconds=150),
                "families": families,
                "pairs": pairs,
            },
        )
        await connection.execute(
            text(
                """
                INSERT INTO sync_runs (run_id, account_id, family, trigger, window_from,
                                       window_to, status, queued_at, updated_at)
                SELECT gen_random_uuid(), account_id, family, 'catch_up', cursor,
                       cursor + interval '1 day', 'running', now(), now()
                FROM sync_state WHERE cursor = CAST(:behind AS timestamptz)
                """
            ),
            {"behind": now - timedelta(days=20)},
        )
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
    return families


async def make_due(engine: AsyncEngine, now: datetime) -> int:
    """Complete the backfilling pairs' runs as the writer does: their cursors move a day
    forward, still behind, so each is due at once for its next window (catch-up)."""
    async with engine.begin() as connection:
        has_due = (
            await connection.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_name = 'sync_state' AND column_name = 'due_at'"
                )
            )
        ).scalar_one()
        await connection.execute(
            text(
                "UPDATE sync_runs SET status = 'succeeded', finished_at = now(), "
                "updated_at = now() WHERE status = 'running'"
            )
        )
        reset = ", due_at = NULL" if has_due else ""
        result = await connection.execute(
            text(
                f"UPDATE sync_state SET cursor = CAST(:ahead AS timestamptz){reset} "
                "WHERE cursor = CAST(:behind AS timestamptz)"
            ),
            {"behind": now - timedelta(days=20), "ahead": now - timedelta(days=19)},
        )
        return int(result.rowcount)


async def timed(
    step: Callable[[], Any], profile: cProfile.Profile | None
) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    try:
        value = await step()
    finally:
        if profile is not None:
            profile.disable()
    return time.perf_counter() - wall, time.process_time() - cpu, value


async def purge_windows(nats_url: str) -> None:
    """An empty windows stream: no window of an earlier phase is held in flight."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        await ensure_topology(js)
        await js.purge_stream(WINDOWS_STREAM)
    finally:
        await connection.close()


def figures(wall: float, cpu: float, sent: Any) -> dict[str, Any]:
    return {"wall_ms": wall * 1e3, "cpu_ms": cpu * 1e3, "sent": sent}


async def run_bench(
    nats_url: str,
    database_url: str,
    *,
    pairs: int,
    due: float,
    profile: bool,
    first_run_accounts: int = 0,
) -> dict[str, Any]:
    await upgrade_async(database_url)
    await purge_windows(nats_url)
    tune_collector()  # as the scheduler's service does (common.service.build_service)
    engine = create_async_engine(database_url, pool_size=5)
    broker = NatsBroker(nats_url)
    await broker.connect()
    tracer = TracerProvider().get_tracer("bench")
    profiles = {
        name: cProfile.Profile() if profile else None for name in ("first", "full", "due", "idle")
    }
    control = await broker.key_value(BUCKETS.control.bucket, declare=False)

    def new_scheduler() -> Scheduler:
        return Scheduler(
            async_sessionmaker(engine, expire_on_commit=False),
            window_publisher(broker, 30, tracer),
            Leader(),
            PauseSwitch(control),
            WindowSettings().policies(),
            stale_after=timedelta(minutes=30),
            clock=lambda: datetime.now(UTC),
        )

    first_run: dict[str, Any] | None = None
    try:
        now = datetime.now(UTC)
        await seed(engine, pairs, due, now)
        scheduler = new_scheduler()
        first_wall, first_cpu, first_sent = await timed(scheduler.tick, profiles["first"])
        # The safety net's full plan (every few minutes): every pair read again, the due
        # times stored by the first one still right.
        scheduler.plan_every_pair_next_tick()
        full_wall, full_cpu, full_sent = await timed(scheduler.tick, profiles["full"])
        made_due = await make_due(engine, now)
        due_wall, due_cpu, sent = await timed(scheduler.tick, profiles["due"])
        idle_wall, idle_cpu, idle_sent = await timed(scheduler.tick, profiles["idle"])
        async with engine.connect() as db:
            queued = (
                await db.execute(text("SELECT count(*) FROM sync_runs WHERE status = 'queued'"))
            ).scalar_one()
        if first_run_accounts > 0:
            # A start on accounts that never ran: a fresh scheduler's first tick.
            async with engine.begin() as connection:
                await seed_accounts(connection, first_run_accounts)
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
            await purge_windows(nats_url)
            wall, cpu, started = await timed(new_scheduler().tick, None)
            first_run = {"accounts": first_run_accounts, **figures(wall, cpu, started)}
    finally:
        await broker.stop()
        await engine.dispose()
    per_window = max(int(sent), 1)
    result: dict[str, Any] = {
        "pairs": pairs,
        "due_pairs": made_due,
        "first_full_plan": figures(first_wall, first_cpu, first_sent),
        "full_plan": figures(full_wall, full_cpu, full_sent),
        "due_tick": figures(due_wall, due_cpu, sent),
        "idle_tick": figures(idle_wall, idle_cpu, idle_sent),
        "publish_ms_per_window": {
            "wall": (due_wall - idle_wall) * 1e3 / per_window,
            "cpu": (due_cpu - idle_cpu) * 1e3 / per_window,
        },
        "tick_cpu_ms_per_window": due_cpu * 1e3 / per_window,
        "queued_runs": queued,
        "target_full_plan_seconds": TARGET_FULL_PLAN_SECONDS,
        "full_plan_within_target": full_wall < TARGET_FULL_PLAN_SECONDS,
    }
    if first_run is not None:
        result["first_run"] = first_run
    if profile:
        result["profiles"] = {name: top(p) for name, p in profiles.items() if p is not None}
    return result


async def run_plan_bench(
    *,
    pairs: int = 100_000,
    first_run_accounts: int = 1_000,
    due: float = 1 / 60,
    profile: bool = False,
    nats_url: str | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """The whole planning bench on servers of its own (or the given ones)."""
    async with bench_servers(nats_url, database_url) as (nats_, database):
        return await run_bench(
            nats_,
            database,
            pairs=pairs,
            due=due,
            profile=profile,
            first_run_accounts=first_run_accounts,
        )


def top(profile: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def summary(result: dict[str, Any]) -> str:
    first, full = result["first_full_plan"], result["full_plan"]
    due, idle = result["due_tick"], result["idle_tick"]
    per = result["publish_ms_per_window"]
    lines = [
        f"planning: {result['pairs']:,} pairs, {result['due_pairs']:,} made due",
        f"first full plan (stores due times):   {first['wall_ms']:8.1f} ms wall "
        f"{first['cpu_ms']:8.1f} ms CPU",
        f"full plan (every pair read, none due): {full['wall_ms']:8.1f} ms wall "
        f"{full['cpu_ms']:8.1f} ms CPU (target < {TARGET_FULL_PLAN_SECONDS * 1e3:.0f} ms)",
        f"due tick ({due['sent']} windows):   {due['wall_ms']:8.1f} ms wall "
        f"{due['cpu_ms']:8.1f} ms CPU",
        f"idle tick:                        {idle['wall_ms']:8.1f} ms wall "
        f"{idle['cpu_ms']:8.1f} ms CPU",
        f"publish: {per['wall']:.3f} ms/window wall, {per['cpu']:.3f} ms/window CPU; "
        f"tick CPU {result['tick_cpu_ms_per_window']:.3f} ms/window",
    ]
    if (first := result.get("first_run")) is not None:
        lines.append(
            f"first run of {first['accounts']:,} accounts (one tick after start): "
            f"{first['wall_ms']:8.1f} ms wall {first['cpu_ms']:8.1f} ms CPU, "
            f"{first['sent']:,} windows queued"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--first-run-accounts", type=int, default=1_000, help="0 skips it")
    parser.add_argument("--due", type=float, default=1 / 60, help="fraction made due")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", action="store_true", help="cProfile each tick")
    parser.add_argument("--nats-url")
    parser.add_argument("--database-url", help="a database (postgresql+asyncpg://…)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # FastStream and asyncio log an INFO/DEBUG line per task at a broker's stop: the bench
    # prints its own results.
    logging.disable(logging.INFO)

    result = asyncio.run(
        run_plan_bench(
            pairs=args.pairs,
            first_run_accounts=args.first_run_accounts,
            due=args.due,
            profile=args.profile,
            nats_url=args.nats_url,
            database_url=args.database_url,
        )
    )
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(summary(result) + "\n")
        for name, text_ in result.get("profiles", {}).items():
            sys.stdout.write(f"--- {name} ---\n{text_}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
