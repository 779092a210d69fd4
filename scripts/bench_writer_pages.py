"""The writer's CPU per page of a caught-up window: empty pages and small ones.

    uv run python scripts/bench_writer_pages.py [--pages 500] [--records 0 3] [--profile out]

A caught-up pair's window is one page with nothing (or a few records) in it; this is what the
writer spends on most of its pages. For each ``--records`` size, ``--pages`` one-page runs are
queued as the scheduler queues them (a fence, a ``queued`` run), their pages published to
``SYNC_PAGES`` as the fetcher publishes them (with the window's start note), then the real writer
service (``writer.app.create_app``, one instance, in this process) is started and its CPU time
taken until every run has succeeded. PostgreSQL's CPU over the same interval (every server
process, from ``psutil``) is reported too. ``--profile`` writes a cProfile of the writer's
interval per size (``<out>-<records>.pstats``) and prints its top functions.

Figures are CPU milliseconds per page (``time.process_time``), not wall time: the machine is
shared, and CPU per unit of work is what decides how many windows a core keeps fresh.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from common.db.sync import SyncRepository
from common.families import Family
from common.messages import PageBatch, PageNote, SyncWindow, Trigger
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from testkit.waiting import eventually
from writer.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_servers import bench_servers, prepare_servers
from bench_writer import bench_writer_settings, publish_pages, succeeded_runs

# The benchmark's output (stdout), not a log.
say: Callable[[str], None] = print


@dataclass(frozen=True)
class Figures:
    records: int
    pages: int
    writer_cpu_ms_per_page: float
    postgres_cpu_ms_per_page: float
    wall_seconds: float


async def queue_runs(engine: AsyncEngine, pages: int, records: int) -> list[PageBatch]:
    """``pages`` one-page runs, one per pair (account), queued as the scheduler queues them."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    now = datetime.now(UTC)
    batches: list[PageBatch] = []
    for i in range(pages):
        run_id = uuid.uuid4()
        async with sessions.begin() as session:
            account_id = (await create_account(session)).id
            sync = SyncRepository(session)
            fence = await sync.take_fence(account_id, Family.ORDERS)
            assert fence is not None
            window = SyncWindow(
                run_id=run_id,
                account_id=account_id,
                family=Family.ORDERS,
                window_from=now - timedelta(minutes=5),
                window_to=now - timedelta(minutes=1),
                trigger=Trigger.SCHEDULE,
                fence=fence,
                issued_at=now,
            )
            await sync.record_queued(window)
        orders = [
            make_order(
                f"P-{i:06d}-{n}",
                modified=now - timedelta(minutes=2),
                created=now - timedelta(days=1),
                line_items=2,
            )
            for n in range(records)
        ]
        batches.append(
            PageBatch(
                **window.run_fields(),
                page_no=1,
                page_count=1,
                fetched_at=now,
                records=orders,
                notes=[PageNote(at=now, kind="start", message="window started")],
            )
        )
    return batches


def postgres_cpu(pid: int) -> float:
    """CPU seconds of the PostgreSQL server and every backend it has forked so far."""
    server = psutil.Process(pid)
    total = 0.0
    for process in (server, *server.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def measure(
    nats_url: str,
    database_url: str,
    postgres_pid: int,
    *,
    pages: int,
    records: int,
    profile: Path | None,
) -> Figures:
    engine = create_async_engine(database_url)
    try:
        batches = await queue_runs(engine, pages, records)
        await publish_pages(nats_url, batches)
        app = create_app(bench_writer_settings(nats_url, database_url))
        logging.getLogger().setLevel(logging.WARNING)
        run_ids = [b.run_id for b in batches]

        async def all_succeeded() -> bool:
            return await succeeded_runs(engine, run_ids) == len(run_ids)

        profiler = cProfile.Profile() if profile else None
        # From the moment the service has started (its start-up is not a page's cost).
        await app.start()
        pg_before = postgres_cpu(postgres_pid)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            await eventually(all_succeeded, within=3600, what="every page written", interval=0.5)
        finally:
            if profiler:
                profiler.disable()
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            pg = postgres_cpu(postgres_pid) - pg_before
            await app.stop()
        if profiler and profile:
            out = profile.with_name(f"{profile.name}-{records}.pstats")
            profiler.dump_stats(out)
            text_out = io.StringIO()
            stats = pstats.Stats(profiler, stream=text_out)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            say(text_out.getvalue())
        return Figures(records, pages, 1000 * cpu / pages, 1000 * pg / pages, wall)
    finally:
        await engine.dispose()


def postgres_pid_of(database_url: str) -> int:
    """The postmaster's pid: the process listening on the URL's port."""
    port = int(database_url.rsplit(":", 1)[1].split("/", 1)[0])
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    raise RuntimeError(f"no process listens on port {port}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--records", type=int, nargs="+", default=[0, 3])
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # FastStream and asyncio log an INFO/DEBUG line per task at a broker's stop: the bench
    # prints its own results.
    logging.disable(logging.INFO)

    async def bench() -> None:
        async with bench_servers(None, None) as (nats_url, database_url):
            await prepare_servers(nats_url, database_url)
            pid = postgres_pid_of(database_url)
            for records in args.records:
                figures = await measure(
                    nats_url,
                    database_url,
                    pid,
                    pages=args.pages,
                    records=records,
                    profile=args.profile,
                )
                say(
                    f"{records} records/page: writer {figures.writer_cpu_ms_per_page:.2f} ms CPU "
                    f"per page, PostgreSQL {figures.postgres_cpu_ms_per_page:.2f} ms "
                    f"({figures.pages} pages in {figures.wall_seconds:.1f} s)"
                )

    asyncio.run(bench())
    return 0


if __name__ == "__main__":
    sys.exit(main())
