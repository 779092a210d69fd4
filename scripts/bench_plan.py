"""The scheduler's planning cost: one tick over many pairs, with the real rules and query.

    uv run python scripts/bench_plan.py [--pairs 100000] [--first-run-accounts 1000]

Two figures, each the best of ``--repeat`` rounds (reported, never asserted):

* **steady tick**: ``--pairs`` pairs (accounts x the 11 families) in a real PostgreSQL (an
  embedded one in a temporary directory), every pair caught up at a cursor spread over the
  last cadence, so some are due; the time of the scheduler's pair query
  (``SyncRepository.pair_states``) and of planning them (``common.scheduling.plan``, the function
  the scheduler calls every tick), apart and together.
* **first run**: ``--first-run-accounts`` accounts that never ran, so every pair is due: the same
  query and plan; what the first tick after a start costs.

``--in-memory`` skips PostgreSQL and plans generated ``PairState``s only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from common.db.migrate import upgrade_async
from common.db.sync import PairState, SyncRepository
from common.families import IMPLEMENTED_FAMILIES, Family
from common.scheduling import plan
from common.settings import WindowSettings
from common.windows import WindowPolicy
from ebaysync.embedded import EmbeddedPostgres

FAMILIES = sorted(IMPLEMENTED_FAMILIES)
STALE_AFTER = timedelta(minutes=30)


def policies() -> dict[Family, WindowPolicy]:
    """The scheduler's default window policy (5-minute cadence)."""
    return WindowSettings().policies()


def caught_up_cursor(now: datetime, policy: WindowPolicy, rng: random.Random) -> datetime:
    """Where a caught-up pair's cursor stands: within one cadence behind ``now - settle lag``."""
    return now - policy.settle_lag - policy.cadence * rng.random() * 1.2


def generated_pairs(count: int, now: datetime, *, fresh: bool) -> list[PairState]:
    rng = random.Random(1)
    chosen = policies()
    pairs = []
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        cursor = None if fresh else caught_up_cursor(now, chosen[family], rng)
        pairs.append(
            PairState(
                account_id=1 + index // len(FAMILIES),
                family=family,
                enabled=True,
                cursor=cursor,
                paused_until=None,
                last_success_at=cursor,
                in_flight=False,
            )
        )
    return pairs


def plan_seconds(pairs: Sequence[PairState], now: datetime, repeat: int) -> tuple[float, int]:
    """Best time of ``plan`` over ``pairs``, and how many windows it planned."""
    chosen = policies()
    best, planned = math.inf, 0
    for _ in range(repeat):
        started = time.perf_counter()
        planned = len(plan(pairs, now, chosen))
        best = min(best, time.perf_counter() - started)
    return best, planned


async def seed(engine: AsyncEngine, accounts: int, now: datetime, *, fresh: bool) -> None:
    """``accounts`` accounts of a new org, with caught-up sync state unless ``fresh``."""
    async with engine.begin() as connection:
        org = await connection.scalar(
            text("INSERT INTO orgs (name) VALUES (:n) RETURNING id"),
            {"n": f"plan-{'fresh' if fresh else 'steady'}-{time.time_ns()}"},
        )
        ids = (
            await connection.execute(
                text(
                    "INSERT INTO ebay_accounts (org_id, ebay_user_id, username, house_name, "
                    "marketplace_id, site_id, environment) "
                    "SELECT CAST(:org AS int), 'u' || g, 'u' || g, 'h' || g, 'EBAY_US', 0, "
                    "'sandbox' FROM generate_series(1, CAST(:n AS int)) g RETURNING id"
                ),
                {"org": org, "n": accounts},
            )
        ).scalars()
        if fresh:
            return
        rng = random.Random(2)
        chosen = policies()
        rows = [
            {"a": account_id, "f": str(f), "c": caught_up_cursor(now, chosen[f], rng)}
            for account_id in ids
            for f in FAMILIES
        ]
        await connection.execute(
            text(
                "INSERT INTO sync_state (account_id, family, cursor, last_success_at) "
                "SELECT * , c FROM unnest(CAST(:a AS int[]), CAST(:f AS text[]), "
                "CAST(:c AS timestamptz[])) AS t(a, f, c)"
            ),
            {"a": [r["a"] for r in rows], "f": [r["f"] for r in rows], "c": [r["c"] for r in rows]},
        )
        await connection.execute(text("ANALYZE"))


async def query_and_plan(engine: AsyncEngine, now: datetime, repeat: int) -> dict[str, Any]:
    """The scheduler's query and planning over everything in the database, best of ``repeat``."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    best_query, pairs = math.inf, []
    for _ in range(repeat):
        async with sessions() as session:
            started = time.perf_counter()
            pairs = await SyncRepository(session).pair_states(FAMILIES, now, STALE_AFTER)
            best_query = min(best_query, time.perf_counter() - started)
    planning, planned = plan_seconds(pairs, now, repeat)
    return {
        "pairs": len(pairs),
        "planned": planned,
        "query_seconds": round(best_query, 4),
        "plan_seconds": round(planning, 4),
        "tick_seconds": round(best_query + planning, 4),
    }


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[AsyncEngine]:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ebaysync-plan-")))
        postgres = stack.enter_context(EmbeddedPostgres(tmp / "postgres"))
        await upgrade_async(postgres.url)
        engine = create_async_engine(postgres.url)
        try:
            yield engine
        finally:
            await engine.dispose()


async def run_plan_bench(
    *,
    pairs: int = 100_000,
    first_run_accounts: int = 1_000,
    in_database: bool = True,
    repeat: int = 3,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    accounts = math.ceil(pairs / len(FAMILIES))
    result: dict[str, Any] = {"families": len(FAMILIES)}
    memory_steady, planned = plan_seconds(generated_pairs(pairs, now, fresh=False), now, repeat)
    memory_fresh, fresh_planned = plan_seconds(
        generated_pairs(first_run_accounts * len(FAMILIES), now, fresh=True), now, repeat
    )
    result["in_memory"] = {
        "steady": {"pairs": pairs, "planned": planned, "plan_seconds": round(memory_steady, 4)},
        "first_run": {
            "accounts": first_run_accounts,
            "pairs": first_run_accounts * len(FAMILIES),
            "planned": fresh_planned,
            "plan_seconds": round(memory_fresh, 4),
        },
    }
    if in_database:
        async with scratch_database() as engine:
            await seed(engine, accounts, now, fresh=False)
            result["database_steady"] = await query_and_plan(engine, now, repeat)
            async with engine.begin() as connection:
                await connection.execute(text("TRUNCATE orgs, ebay_accounts CASCADE"))
            await seed(engine, first_run_accounts, now, fresh=True)
            result["database_first_run"] = {
                "accounts": first_run_accounts,
                **await query_and_plan(engine, now, repeat),
            }
    return result


def summary(result: dict[str, Any]) -> str:
    memory = result["in_memory"]
    lines = [
        f"planning {memory['steady']['pairs']:,} pairs (in memory): "
        f"{memory['steady']['plan_seconds']:.3f}s, {memory['steady']['planned']:,} due; "
        f"first run of {memory['first_run']['accounts']:,} accounts: "
        f"{memory['first_run']['plan_seconds']:.3f}s"
    ]
    for key, label in (("database_steady", "steady"), ("database_first_run", "first run")):
        if (db := result.get(key)) is not None:
            lines.append(
                f"tick ({label}, query + plan over {db['pairs']:,} pairs in PostgreSQL): "
                f"{db['tick_seconds']:.3f}s (query {db['query_seconds']:.3f}s, plan "
                f"{db['plan_seconds']:.3f}s), {db['planned']:,} due"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--first-run-accounts", type=int, default=1_000)
    parser.add_argument("--in-memory", action="store_true", help="no PostgreSQL query")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(
        run_plan_bench(
            pairs=args.pairs,
            first_run_accounts=args.first_run_accounts,
            in_database=not args.in_memory,
            repeat=args.repeat,
        )
    )
    print(json.dumps(result, indent=2) if args.json else summary(result))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
