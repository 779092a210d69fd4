"""The writer's throughput through the real JetStream pipeline, against two baselines.

    uv run python scripts/bench_writer.py [--orders 10000] [--page-size 200] [--writers 2]
    make bench

One run on one database (the embedded runtime's PostgreSQL and NATS, as ``make up`` runs them, or
the servers given by ``--nats-url``/``--database-url``). The same realistic orders
(``testkit.ebay_samples.make_order``, two line items each) are written three ways, each into a
fresh account, first as inserts and then again with every order changed (an "update all" pass):

* **pipeline**: ``PageBatch``es published to ``SYNC_PAGES``, then the real writer service
  (``writer.app.create_app``, ``--writers`` instances) started and timed until every run has
  succeeded. That includes receipts, run progress, history events and cursors.
* **naive**: one ``INSERT … ON CONFLICT DO UPDATE`` per row (an order and its line items), one
  transaction per order.
* **bulk**: the best raw bulk upsert without the pipeline: per page, ``COPY`` into a temporary
  stage table (asyncpg ``copy_records_to_table``) and one ``INSERT … SELECT … ON CONFLICT DO
  UPDATE … WHERE … IS DISTINCT FROM`` per table, one transaction per page, no history.

Prints orders/s of each and the ratios pipeline/naive (target >= 8) and pipeline/bulk (target
>= 0.7), and writes them to ``artifacts/bench.json``. PostgreSQL keeps its durable
defaults (each commit waits for its WAL flush), so the naive loop pays per transaction what it
would in production; a ``--database-url`` with ``fsync=off`` narrows that gap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from faststream import FastStream
from faststream.nats import NatsBroker
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from common.families import Family
from common.messages import PageBatch, Trigger, encoded
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import PAGES_STREAM
from ebay_sandbox.settings import SandboxConfig
from fetcher.settings import FetcherSettings
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from testkit.memory import fetch_in_subprocess
from testkit.pipeline import family_pipeline
from testkit.waiting import eventually
from writer.app import create_app
from writer.settings import WriterSettings

# The baselines live beside this script (the smoke test loads it by path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_servers import bench_servers, prepare_servers
from bench_writer_baselines import Order, bulk_seconds, naive_seconds

ROOT = Path(__file__).resolve().parents[1]
PAGES_PER_RUN = 10
TARGET_VS_NAIVE = 8.0
TARGET_VS_BULK = 0.7


@dataclass(frozen=True)
class Pass:
    """Orders per second of each variant for one pass over the same orders."""

    pipeline: float
    naive: float
    bulk: float

    @property
    def pipeline_vs_naive(self) -> float:
        return self.pipeline / self.naive

    @property
    def pipeline_vs_bulk(self) -> float:
        return self.pipeline / self.bulk

    def as_json(self) -> dict[str, float]:
        return {
            **asdict(self),
            "pipeline_vs_naive": self.pipeline_vs_naive,
            "pipeline_vs_bulk": self.pipeline_vs_bulk,
        }


def sample_orders(count: int, version: int) -> list[Order]:
    """``count`` orders; a higher ``version`` changes every one of them (status, date)."""
    base = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=version)
    return [
        make_order(
            f"BENCH-{i:08d}",
            modified=base + timedelta(seconds=i),
            created=base - timedelta(days=3),
            status="FULFILLED" if version else "NOT_STARTED",
            line_items=2,
        )
        for i in range(count)
    ]


def pages_of(orders: Sequence[Order], size: int) -> list[list[Order]]:
    return [list(orders[i : i + size]) for i in range(0, len(orders), size)]


# --- the pipeline --------------------------------------------------------------------------


def page_batches(account_id: int, pages: Sequence[list[Order]]) -> list[PageBatch]:
    """The pages as the fetcher would publish them: runs of ``PAGES_PER_RUN`` pages."""
    now = datetime.now(UTC)
    batches = []
    for start in range(0, len(pages), PAGES_PER_RUN):
        run_pages = pages[start : start + PAGES_PER_RUN]
        run_id = uuid.uuid4()
        for number, records in enumerate(run_pages, start=1):
            batches.append(
                PageBatch(
                    run_id=run_id,
                    account_id=account_id,
                    family=Family.ORDERS,
                    window_from=now - timedelta(days=1),
                    window_to=now,
                    trigger=Trigger.MANUAL,
                    page_no=number,
                    page_count=len(run_pages) if number == len(run_pages) else None,
                    fetched_at=now,
                    records=records,
                )
            )
    return batches


def bench_writer_settings(nats_url: str, database_url: str) -> WriterSettings:
    """The writer service on the bench's servers, its metrics on a free port."""
    return WriterSettings(
        nats=NatsSettings(url=nats_url),
        database=PostgresSettings(url=SecretStr(database_url)),
        metrics=MetricsSettings(port=0),
    )


async def publish_pages(nats_url: str, batches: Sequence[PageBatch]) -> None:
    """Queue the pages on their stream as the fetcher does (``fetcher.app``: the same headers)."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        for batch in batches:
            await js.publish(
                batch.subject,
                encoded(batch),
                stream=PAGES_STREAM,
                headers={"Nats-Msg-Id": batch.message_id, "content-type": "application/json"},
            )
    finally:
        await connection.close()


async def pipeline_seconds(
    nats_url: str,
    database_url: str,
    engine: AsyncEngine,
    batches: Sequence[PageBatch],
    writers: int,
    quiet: bool,
) -> float:
    """Publish every page, then time the writer service until every run succeeded."""
    await publish_pages(nats_url, batches)
    run_ids = list({b.run_id for b in batches})
    settings = bench_writer_settings(nats_url, database_url)
    apps: list[FastStream] = [create_app(settings) for _ in range(writers)]
    if quiet:
        # The services log every page at INFO; the bench prints only its results.
        brokers = [n for n in logging.root.manager.loggerDict if n.startswith("faststream")]
        for name in ("", *brokers):
            logging.getLogger(name).setLevel(logging.WARNING)
    started = time.perf_counter()
    for app in apps:
        await app.start()
    try:

        async def all_succeeded() -> bool:
            return await succeeded_runs(engine, run_ids) == len(run_ids)

        await eventually(all_succeeded, within=3600, what="every run written", interval=0.02)
        return time.perf_counter() - started
    finally:
        for app in apps:
            await app.stop()


async def succeeded_runs(engine: AsyncEngine, run_ids: Sequence[uuid.UUID]) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM sync_runs WHERE run_id = ANY(:ids) AND status = 'succeeded'"
            ),
            {"ids": run_ids},
        )
    return int(count or 0)


# --- one run -------------------------------------------------------------------------------


async def peak_fetcher_memory(
    nats_url: str, database_url: str, listings: int
) -> dict[str, Any] | None:
    """The fetcher's peak RSS (a real ``faststream run`` process) syncing the active listings of
    one sandbox seller with ``listings`` of them; None when ``listings`` is 0 (skipped)."""
    if listings <= 0:
        return None
    broker = NatsBroker(nats_url)
    await broker.connect()
    engine = create_async_engine(database_url)
    try:
        async with family_pipeline(
            nats_url=nats_url,
            database_url=database_url,
            broker=broker,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            config=SandboxConfig(sellers=1, profile="huge", listings=listings, clock_frozen=True),
            fetcher_settings=FetcherSettings(
                nats=NatsSettings(url=nats_url), metrics=MetricsSettings(port=0)
            ),
        ) as pipeline:
            report = await fetch_in_subprocess(
                pipeline, pipeline.sellers[0], Family.ACTIVE_INVENTORY, window_from=None
            )
    finally:
        await broker.stop()
        await engine.dispose()
    return {
        "family": str(Family.ACTIVE_INVENTORY),
        "listings": listings,
        "pages": report.pages,
        "peak_rss_mib": round(report.peak_rss_mib, 1),
    }


async def run_bench(
    nats_url: str,
    database_url: str,
    *,
    orders: int,
    page_size: int,
    writers: int,
    listings: int = 25_000,
    out: Path | None = None,
    say: Callable[[str], None] = print,
    quiet: bool = False,
) -> dict[str, Any]:
    """Every variant over the same orders, inserts then updates; returns (and writes) results."""
    await prepare_servers(nats_url, database_url)
    engine = create_async_engine(database_url)
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        accounts = {name: await new_account(engine) for name in ("pipeline", "naive", "bulk")}
        passes: dict[str, Pass] = {}
        for version, name in enumerate(("insert", "update")):
            data = sample_orders(orders, version)
            pages = pages_of(data, page_size)
            batches = page_batches(accounts["pipeline"], pages)
            timings = {
                "naive": await naive_seconds(dsn, accounts["naive"], data),
                "bulk": await bulk_seconds(dsn, accounts["bulk"], pages),
                "pipeline": await pipeline_seconds(
                    nats_url, database_url, engine, batches, writers, quiet
                ),
            }
            passes[name] = Pass(**{k: orders / seconds for k, seconds in timings.items()})
            await same_rows(engine, accounts, orders)
    finally:
        await engine.dispose()
    memory = await peak_fetcher_memory(nats_url, database_url, listings)
    result = {
        "orders": orders,
        "line_items_per_order": 2,
        "page_size": page_size,
        "writers": writers,
        "rows_per_second": {name: p.as_json() for name, p in passes.items()},
        "targets": {"pipeline_vs_naive": TARGET_VS_NAIVE, "pipeline_vs_bulk": TARGET_VS_BULK},
        "fetcher_peak_rss": memory,
    }
    for name, p in passes.items():
        say(
            f"{name:6}  pipeline {p.pipeline:9.0f} orders/s   naive {p.naive:9.0f}   "
            f"bulk {p.bulk:9.0f}   pipeline/naive {p.pipeline_vs_naive:5.1f}x "
            f"(target >= {TARGET_VS_NAIVE:.0f}x)   pipeline/bulk {p.pipeline_vs_bulk:6.1%} "
            f"(target >= {TARGET_VS_BULK:.0%})"
        )
    say(
        "fetcher peak RSS: not measured (--listings 0)"
        if memory is None
        else f"fetcher peak RSS {memory['peak_rss_mib']} MiB syncing {listings:,} listings "
        f"({memory['pages']} pages; limit 200 MB)"
    )
    if out is not None:
        await asyncio.to_thread(write_json, out, result)
        say(f"written to {out}")
    return result


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))


async def new_account(engine: AsyncEngine) -> int:
    async with async_sessionmaker(engine).begin() as session:
        account = await create_account(session)
        return account.id


async def same_rows(engine: AsyncEngine, accounts: dict[str, int], orders: int) -> None:
    """Every variant wrote every order and line item: the timings measure the same work."""
    async with engine.connect() as connection:
        for name, account_id in accounts.items():
            counts = (
                await connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM ebay_orders WHERE account_id = :a), "
                        "(SELECT count(*) FROM ebay_order_line_items WHERE account_id = :a)"
                    ),
                    {"a": account_id},
                )
            ).one()
            if tuple(counts) != (orders, 2 * orders):
                raise RuntimeError(f"{name} wrote {tuple(counts)}, not ({orders}, {2 * orders})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--writers", type=int, default=2, help="writer service instances")
    parser.add_argument(
        "--listings", type=int, default=25_000, help="fetcher memory run (0 skips it)"
    )
    parser.add_argument("--nats-url")
    parser.add_argument("--database-url", help="an empty database (postgresql+asyncpg://…)")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # The bench prints its results itself. FastStream's brokers make their own INFO logger when
    # they start (after any level set here), and their subscribers' supervisors log "callback
    # for Task-N is being executed..." for every task at stop: silence INFO for the process.
    logging.disable(logging.INFO)

    async def bench() -> None:
        async with bench_servers(args.nats_url, args.database_url) as (nats_url, database_url):
            await run_bench(
                nats_url,
                database_url,
                orders=args.orders,
                page_size=args.page_size,
                writers=args.writers,
                listings=args.listings,
                out=args.out,
                quiet=True,
            )

    asyncio.run(bench())
    return 0


if __name__ == "__main__":
    sys.exit(main())
