"""What the scale bench reads from the database and the sandbox, and how it prints a result."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import bench_plan
import bench_sandbox
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.families import SNAPSHOT_FAMILIES, families_of

# The sandbox's endpoint names (``GET /sandbox/stats``) -> the family whose runs call them.
ENDPOINT_FAMILIES: tuple[tuple[str, str], ...] = (
    ("getOrder", "orders"),
    ("getTransactions", "transactions"),
    ("getPayout", "finances"),
    ("getInventoryItem", "offers"),
    ("getOffer", "offers"),
    ("GetMyMessages", "messages"),
    ("GetMyeBaySelling", "active_inventory"),
    ("GetMyeBayBuying", "purchases"),
    ("Case", "cases"),
    ("Inquir", "inquiries"),
    ("Return", "returns"),
    ("PaymentDispute", "payment_disputes"),
)


# --- the database's view -------------------------------------------------------------------


async def expected_pairs(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        purposes = (
            await connection.execute(text("SELECT purpose FROM ebay_accounts WHERE active"))
        ).scalars()
        return sum(len(families_of(p)) for p in purposes)


async def pairs_done(engine: AsyncEngine, since: datetime) -> int:
    """Pairs with a successful run finished since ``since``."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(DISTINCT (account_id, family)) FROM sync_runs "
                "WHERE status = 'succeeded' AND finished_at >= :since"
            ),
            {"since": since},
        )
    return int(count or 0)


async def db_now(engine: AsyncEngine) -> datetime:
    async with engine.connect() as connection:
        value = await connection.scalar(text("SELECT clock_timestamp()"))
    assert isinstance(value, datetime)
    return value


async def runs_between(engine: AsyncEngine, start: datetime, end: datetime) -> dict[str, Any]:
    """Runs that ended in ``(start, end]``: succeeded per family, failed, latencies."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT family, status, "
                    "EXTRACT(EPOCH FROM finished_at - coalesce(queued_at, started_at)) AS latency "
                    "FROM sync_runs WHERE finished_at > :start AND finished_at <= :end"
                ),
                {"start": start, "end": end},
            )
        ).all()
    succeeded: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    for family, status, latency in rows:
        statuses[status] += 1
        if status == "succeeded":
            succeeded[family] += 1
            if latency is not None:
                latencies.append(float(latency))
    return {"succeeded": succeeded, "statuses": statuses, "latencies": latencies}


async def pair_lags(engine: AsyncEngine) -> list[float]:
    """Every pair's lag now, as ``ebaysync status`` computes it (``ebaysync.status.pair_lag``):
    now - cursor, or now - last success for a snapshot family; pairs never synced left out."""
    snapshots = [str(f) for f in SNAPSHOT_FAMILIES]
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT EXTRACT(EPOCH FROM clock_timestamp() - CASE WHEN s.family = ANY(:snap)"
                    " THEN s.last_success_at ELSE s.cursor END) FROM sync_state s"
                    " JOIN ebay_accounts a ON a.id = s.account_id WHERE a.active"
                ),
                {"snap": snapshots},
            )
        ).scalars()
        return [float(v) for v in rows if v is not None]


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- the sandbox's view --------------------------------------------------------------------


async def sandbox_endpoints(sandbox_url: str) -> Counter[str]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        body = (await http.get("/sandbox/stats")).json()
    return Counter({str(k): int(v) for k, v in body["endpoints"].items()})


def family_of_endpoint(endpoint: str) -> str | None:
    for fragment, family in ENDPOINT_FAMILIES:
        if fragment in endpoint:
            return family
    return None


def calls_per_run(
    calls: Mapping[str, int], runs: Mapping[str, int]
) -> dict[str, dict[str, float | int | dict[str, float]]]:
    """Per family: eBay calls per succeeded run, and per endpoint (the phases the sandbox can tell
    apart by method; phases of one method, such as a window and a "recent" search, are summed)."""
    per_family: dict[str, Counter[str]] = defaultdict(Counter)
    for endpoint, count in calls.items():
        family = family_of_endpoint(endpoint)
        if family is not None and count > 0:
            per_family[family][endpoint] += count
    result: dict[str, dict[str, float | int | dict[str, float]]] = {}
    for family in sorted(set(per_family) | set(runs)):
        done = runs.get(family, 0)
        endpoints = per_family.get(family, Counter())
        result[family] = {
            "runs": done,
            "calls": sum(endpoints.values()),
            "calls_per_run": round(sum(endpoints.values()) / done, 2) if done else 0.0,
            "per_endpoint": {e: round(c / done, 2) if done else 0.0 for e, c in endpoints.items()},
        }
    return result


# --- the report ---------------------------------------------------------------------------


def report(result: dict[str, Any], say: Callable[[str], None]) -> None:
    say("")
    say(
        f"{result['pairs']} pairs; first pass {result['first_pass_seconds']}s; measured "
        f"{result['measured_seconds']}s: {result['windows']} windows, "
        f"{result['windows_per_second']} windows/s, {result['failed_runs']} failed, "
        f"{result['cpu_cores_busy']} cores busy"
    )
    say(f"{'process':28} {'CPU s':>8} {'cores':>6} {'ms/window':>10} {'RSS MiB':>8} {'PSS MiB':>8}")
    for name, row in sorted(result["cpu"].items(), key=lambda kv: -(kv[1]["cpu_seconds"] or 0)):
        memory = result["memory_mib"].get(name, {})
        ms = row["ms_per_window"]
        say(
            f"{name:28} {row['cpu_seconds']:8.2f} {row['cores']:6.3f} "
            f"{'-' if ms is None else f'{ms:.2f}':>10} "
            f"{memory.get('rss_mib', '-'):>8} {memory.get('pss_mib', '-'):>8}"
        )
    capacity = result["capacity"]
    say(
        f"total excl. sandbox (and bench process): "
        f"{result['cpu_ms_per_window_excluding_sandbox']:.2f} ms/window -> "
        f"{capacity['windows_per_second']} windows/s on {capacity['cores']} cores = "
        f"{capacity['accounts_at_5_min_cadence']} accounts at a 5-minute cadence (11 families)"
    )
    latency, lag = result["run_latency_seconds"], result["lag_seconds"]
    say(
        f"run latency queued->committed p50 {latency['p50']}s p99 {latency['p99']}s; "
        f"lag p50 {lag['p50']}s p99 {lag['p99']}s"
    )
    sandbox = result["sandbox"]
    say(
        f"sandbox: {sandbox['calls']} calls, {sandbox['calls_per_window']} per window, "
        f"{sandbox['cpu_ms_per_call']} ms CPU per call"
    )
    say(
        "eBay calls per run: "
        + ", ".join(f"{f} {v['calls_per_run']}" for f, v in result["ebay_calls_per_run"].items())
    )
    for name, profile in result.get("profiles", {}).items():
        packages = ", ".join(f"{p} {v:.0f}%" for p, v in list(profile["packages"].items())[:6])
        say(f"{name}: on CPU in {packages}; top functions (self, then inclusive):")
        for function, share in list(profile["self"].items())[:5]:
            say(f"    {share:5.1f}%  {function}")
        for function, share in list(profile["inclusive"].items())[:5]:
            say(f"    {share:5.1f}%  {function} (inclusive)")
    if (planning := result.get("planning")) is not None:
        say(bench_plan.summary(planning))
    if (idle := result.get("sandbox_idle_page")) is not None:
        say(bench_sandbox.summary(idle))
