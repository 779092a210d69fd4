"""The whole system's CPU cost per window, at saturation, and what capacity follows.

    uv run python scripts/bench_scale.py [--sellers 200] [--measure 90] [--profile-seconds 20]
    make bench-scale

Starts the system as ``ebaysync up`` does (``ebaysync.runtime.Runtime``: embedded NATS and
PostgreSQL, the eBay sandbox, every service its own process) with ``--sellers`` sandbox sellers
of the ``tiny`` profile and a one-day backfill, on a cadence short enough that every pair is due
again as soon as its run ends: the machine is saturated and the windows per second measured are
what it sustains. First every pair runs once (the first pass, timed); then, over the measured
interval:

* CPU time per process group from ``/proc/<pid>/stat`` (utime + stime of the process and its
  live descendants, plus what its exited children left in cutime + cstime): each service's
  process, nats-server, PostgreSQL (the postmaster and every backend), the sandbox; and this
  process (the supervisor pumping the services' logs), shown apart;
* windows: runs that succeeded in the interval (``sync_runs.finished_at``, database clock), and
  the failed ones;
* run latency (queued -> committed) of those runs, and the lag of every pair (the definition of
  ``ebaysync status``: now - cursor, or now - last success for a snapshot family), sampled;
* eBay calls per run per family, counted at the sandbox (``GET /sandbox/stats``);
* RSS (and PSS, which counts shared pages once) per process group at the end.

From them: CPU ms per window per process, the total without the sandbox, and the capacity that
follows: 2 cores / CPU per window, as accounts at a 5-minute cadence with 11 families. Then,
optionally, ``py-spy`` (if on PATH) samples the busiest processes for ``--profile-seconds`` and
the top functions of each are reported ("where the time went"). The scheduler's planning
benchmark (``scripts/bench_plan.py``) and the sandbox's idle-page cost
(``scripts/bench_sandbox.py``) run too, unless skipped. Everything goes to ``artifacts/scale.json``.
Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from embedded_servers import find_free_port
from sqlalchemy.ext.asyncio import create_async_engine

from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.supervisor import Supervisor

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_plan
import bench_profile
import bench_sandbox
from bench_observe import (
    calls_per_run,
    db_now,
    expected_pairs,
    pair_lags,
    pairs_done,
    percentile,
    report,
    runs_between,
    sandbox_endpoints,
)
from bench_proc import CLOCK_TICKS, all_stats, group_ticks, memory_mib, own_ticks, process_groups

ROOT = Path(__file__).resolve().parents[1]
CORES = 2
CADENCE_FOR_CAPACITY_S = 300.0
FAMILIES_PER_ACCOUNT = 11

log = logging.getLogger("bench_scale")


# --- one run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleOptions:
    sellers: int = 200
    profile: str = "tiny"
    backfill_days: float = 1.0
    # Short enough that a caught-up pair is due again the moment its run ends: saturation.
    cadence_seconds: float = 1.0
    settle_lag_seconds: float = 5.0
    tick_seconds: float = 1.0
    measure_seconds: float = 90.0
    first_pass_timeout: float = 1800.0
    lag_sample_seconds: float = 5.0
    profile_seconds: float = 20.0
    fetchers: int = 1
    writers: int = 1


def runtime_options(options: ScaleOptions, data_dir: Path) -> RuntimeOptions:
    return RuntimeOptions(
        data_dir=data_dir,
        admin_port=find_free_port(),
        sellers=options.sellers,
        replicas={"fetcher": options.fetchers, "writer": options.writers},
        service_env={
            "SCHEDULER_TICK_SECONDS": str(options.tick_seconds),
            "SCHEDULER_CADENCE_SECONDS": str(options.cadence_seconds),
            "SCHEDULER_SNAPSHOT_CADENCE_SECONDS": str(options.cadence_seconds),
            "SCHEDULER_SETTLE_LAG_SECONDS": str(options.settle_lag_seconds),
            "SCHEDULER_OVERLAP_SECONDS": "120",
            "SCHEDULER_MAX_WINDOW_DAYS": "15",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": str(options.backfill_days),
            "OTEL_LOG_FORMAT": "text",
            # A saturated bench spends eBay's daily quotas in minutes: the ledger would make
            # every run wait for midnight instead of measuring the pipeline.
            **{
                f"FETCHER_CALL_LEDGER__QUOTAS__{api}": "1000000000"
                for api in (
                    "TRADING",
                    "POSTORDER_CASES",
                    "POSTORDER_INQUIRIES",
                    "POSTORDER_RETURNS",
                    "FINANCES",
                    "FULFILLMENT",
                )
            },
        },
        sandbox_env={
            "SANDBOX_PROFILE": options.profile,
            "SANDBOX_HISTORY_DAYS": str(max(1, round(options.backfill_days)) + 1),
        },
    )


@contextlib.contextmanager
def data_directory(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="ebaysync-scale-") as tmp:
        yield Path(tmp)


def cpu_table(
    ticks: Mapping[str, int], windows: int, seconds: float
) -> dict[str, dict[str, float | None]]:
    table: dict[str, dict[str, float | None]] = {}
    for name, used in ticks.items():
        cpu_s = used / CLOCK_TICKS
        table[name] = {
            "cpu_seconds": round(cpu_s, 2),
            "cores": round(cpu_s / seconds, 3),
            "ms_per_window": round(1000 * cpu_s / windows, 2) if windows else None,
        }
    return table


async def run_scale(
    options: ScaleOptions,
    *,
    data_dir: Path | None = None,
    plan_pairs: int = 100_000,
    plan_accounts: int = 1_000,
    idle_pages: int = 300,
    out: Path | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The whole measurement; returns (and writes to ``out``) the figures."""
    with data_directory(data_dir) as directory:
        logs = directory / "services.log"
        with logs.open("w") as log_file:
            result = await measure_system(options, directory, log_file, say)
    say(f"services' output: {logs}" if data_dir is not None else "")
    if plan_pairs > 0:
        say("planning benchmark ...")
        result["planning"] = await bench_plan.run_plan_bench(
            pairs=plan_pairs, first_run_accounts=plan_accounts
        )
    if idle_pages > 0:
        say("sandbox idle-page benchmark ...")
        result["sandbox_idle_page"] = await bench_sandbox.run_idle_bench(requests=idle_pages)
    report(result, say)
    if out is not None:
        await asyncio.to_thread(write_json, out, result)
        say(f"written to {out}")
    return result


async def measure_system(
    options: ScaleOptions, directory: Path, log_file: TextIO, say: Callable[[str], None]
) -> dict[str, Any]:
    runtime = Runtime(runtime_options(options, directory / "data"))
    # The services' output goes to a file: a terminal printing every line would be measured.
    runtime.supervisor = Supervisor(stop_timeout=15.0, output=log_file)
    started = time.monotonic()
    say(f"starting the system with {options.sellers} sandbox sellers ...")
    info = await runtime.start()
    engine = create_async_engine(info.database_url, pool_size=2)
    try:
        up_seconds = time.monotonic() - started
        pairs = await expected_pairs(engine)
        since = datetime(2000, 1, 1, tzinfo=UTC)
        say(f"up in {up_seconds:.1f}s; waiting for the first run of all {pairs} pairs ...")
        deadline = time.monotonic() + options.first_pass_timeout
        while (done := await pairs_done(engine, since)) < pairs:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {done} of {pairs} pairs ran within the timeout")
            await asyncio.sleep(1.0)
        first_pass = time.monotonic() - started - up_seconds
        say(f"all pairs ran once after {first_pass:.1f}s; measuring {options.measure_seconds}s")
        # Let the pairs that just caught up settle into the saturated steady state.
        await asyncio.sleep(min(10.0, options.measure_seconds / 4))

        groups = process_groups(runtime)
        calls_before = await sandbox_endpoints(info.sandbox_url)
        stats_before = all_stats()
        own_before = own_ticks()
        db_start = await db_now(engine)
        clock_start = time.monotonic()
        lags: list[float] = []
        lag_rounds = 0
        while (elapsed := time.monotonic() - clock_start) < options.measure_seconds:
            lags.extend(await pair_lags(engine))
            lag_rounds += 1
            await asyncio.sleep(min(options.lag_sample_seconds, options.measure_seconds - elapsed))
        stats_after = all_stats()
        own_after = own_ticks()
        seconds = time.monotonic() - clock_start
        db_end = await db_now(engine)
        calls_after = await sandbox_endpoints(info.sandbox_url)
        if set(process_groups(runtime)) != set(groups) or any(
            c.restarts for c in runtime.supervisor.children.values()
        ):
            say("warning: a service restarted during the measurement")

        ticks = {
            name: group_ticks(pids, stats_after) - group_ticks(pids, stats_before)
            for name, pids in groups.items()
        }
        runs = await runs_between(engine, db_start, db_end)
        windows = sum(runs["succeeded"].values())
        cpu = cpu_table(ticks, windows, seconds)
        cpu["supervisor (bench process)"] = cpu_table(
            {"x": own_after - own_before}, windows, seconds
        )["x"]
        excluded = {"ebay-sandbox", "supervisor (bench process)"}
        system_ms = sum((v["ms_per_window"] or 0.0) for k, v in cpu.items() if k not in excluded)
        calls = calls_after - calls_before
        memory = {name: memory_mib(pids) for name, pids in groups.items()}
        profiles = await asyncio.to_thread(
            bench_profile.profile_processes,
            groups,
            ("scheduler", "fetcher", "writer", "token-service", "admin-api", "ebay-sandbox"),
            options.profile_seconds,
            directory,
        )
    finally:
        await engine.dispose()
        await runtime.stop()
    windows_per_s = windows / seconds
    per_window_s = system_ms / 1000
    capacity_windows = CORES / per_window_s if per_window_s else None
    sandbox_calls = sum(calls.values())
    sandbox_ticks = ticks.get("ebay-sandbox", 0)
    return {
        "options": options.__dict__,
        "pairs": pairs,
        "startup_seconds": round(up_seconds, 1),
        "first_pass_seconds": round(first_pass, 1),
        "measured_seconds": round(seconds, 1),
        "windows": windows,
        "windows_per_second": round(windows_per_s, 2),
        "windows_by_family": dict(sorted(runs["succeeded"].items())),
        "runs_ended_by_status": dict(runs["statuses"]),
        "failed_runs": runs["statuses"].get("failed", 0),
        "cpu": cpu,
        "cpu_ms_per_window_excluding_sandbox": round(system_ms, 2),
        "cpu_cores_busy": round(sum(t for t in ticks.values()) / CLOCK_TICKS / seconds, 2),
        "capacity": {
            "cores": CORES,
            "windows_per_second": round(capacity_windows, 1) if capacity_windows else None,
            "accounts_at_5_min_cadence": (
                round(capacity_windows * CADENCE_FOR_CAPACITY_S / FAMILIES_PER_ACCOUNT)
                if capacity_windows
                else None
            ),
        },
        "run_latency_seconds": {
            "p50": round_or_none(percentile(runs["latencies"], 0.5)),
            "p99": round_or_none(percentile(runs["latencies"], 0.99)),
        },
        "lag_seconds": {
            "p50": round_or_none(percentile(lags, 0.5)),
            "p99": round_or_none(percentile(lags, 0.99)),
            "samples": len(lags),
            "rounds": lag_rounds,
        },
        "memory_mib": memory,
        "sandbox": {
            "calls": sandbox_calls,
            "calls_per_window": round(sandbox_calls / windows, 2) if windows else None,
            "cpu_ms_per_call": (
                round(1000 * sandbox_ticks / CLOCK_TICKS / sandbox_calls, 3)
                if sandbox_calls
                else None
            ),
            "calls_by_endpoint": dict(calls.most_common()),
        },
        "ebay_calls_per_run": calls_per_run(calls, runs["succeeded"]),
        "profiles": profiles,
    }


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))


def round_or_none(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    defaults = ScaleOptions()
    parser.add_argument("--sellers", type=int, default=defaults.sellers)
    parser.add_argument("--profile", default=defaults.profile, help="sandbox size profile")
    parser.add_argument("--backfill-days", type=float, default=defaults.backfill_days)
    parser.add_argument("--cadence", type=float, default=defaults.cadence_seconds)
    parser.add_argument("--settle-lag", type=float, default=defaults.settle_lag_seconds)
    parser.add_argument("--tick", type=float, default=defaults.tick_seconds)
    parser.add_argument("--measure", type=float, default=defaults.measure_seconds)
    parser.add_argument("--first-pass-timeout", type=float, default=defaults.first_pass_timeout)
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=defaults.profile_seconds,
        help="py-spy sampling after the measurement (0: none; needs py-spy on PATH)",
    )
    parser.add_argument("--fetchers", type=int, default=defaults.fetchers)
    parser.add_argument("--writers", type=int, default=defaults.writers)
    parser.add_argument("--plan-pairs", type=int, default=100_000, help="0 skips planning")
    parser.add_argument("--plan-accounts", type=int, default=1_000)
    parser.add_argument("--idle-pages", type=int, default=300, help="0 skips the sandbox bench")
    parser.add_argument("--data-dir", type=Path, help="keep the data and services' log here")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "scale.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # FastStream and asyncio log an INFO/DEBUG line per task at a broker's stop: the bench
    # prints its own results.
    logging.disable(logging.INFO)
    options = ScaleOptions(
        sellers=args.sellers,
        profile=args.profile,
        backfill_days=args.backfill_days,
        cadence_seconds=args.cadence,
        settle_lag_seconds=args.settle_lag,
        tick_seconds=args.tick,
        measure_seconds=args.measure,
        first_pass_timeout=args.first_pass_timeout,
        profile_seconds=args.profile_seconds,
        fetchers=args.fetchers,
        writers=args.writers,
    )
    asyncio.run(
        run_scale(
            options,
            data_dir=args.data_dir,
            plan_pairs=args.plan_pairs,
            plan_accounts=args.plan_accounts,
            idle_pages=args.idle_pages,
            out=args.out,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
