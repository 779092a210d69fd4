"""Freshness: how long a change at eBay takes to be a committed row, with push on, lossy, off.

    uv run python scripts/bench_freshness.py [--sellers 2] [--measure 75] [--drain 30]
    make bench-freshness

For each mode the whole system starts as ``ebaysync up`` runs it (``ebaysync.runtime.Runtime``:
embedded NATS and PostgreSQL, every service its own process, push on against the sandbox, whose
subscriptions the admin API's job creates, and the production cadences: 5 minutes, settle lag
2 minutes, snapshots hourly), with ``--sellers`` sandbox sellers whose simulated world runs in
real time at the volumes given (orders, messages, listings; returns follow orders):

* ``push``: every notification the sandbox generates is delivered (signed, to the ingress);
* ``push-drop30``: the sandbox drops 30 % of them (``SANDBOX_NOTIFY_DROP``);
* ``polling``: push off (``ADMIN_API_PUSH__ENABLED=false``): only the cadence brings changes.

After the first run of every pair (and, with push, the subscriptions in place), for
``--measure`` seconds the bench reads the sandbox's ground truth every ``--sample`` seconds:
orders modified (each new lastModifiedDate is a change), messages received (not the seller's
replies in Sent: eBay notifies none of those), returns opened,
listings started. Then it waits ``--drain`` seconds and matches every change to the first
``ebay_events`` row that carried it (an order's: the first write whose lastModifiedDate is at
least the change's; the others': the entity's first write). Both instants are sandbox time,
which the writer's ``now`` (``WRITER_CLOCK_URL``) also is. Latency = that write's
``occurred_at`` (set inside the committing transaction) - the change's instant. A change not
committed by the end is counted as later than all (p99 shown as "> drain"). Figures only,
nothing asserted; written to ``artifacts/freshness.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from embedded_servers import find_free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.families import Family
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.supervisor import Supervisor
from ebaysync.truths import TRUTHS, iso_field

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_observe import expected_pairs, pairs_done
from bench_scale import data_directory, write_json
from freshness_figures import (
    Change,
    Write,
    figures,
    latencies,
    received_message,
    report_lines,
)

ROOT = Path(__file__).resolve().parents[1]
MODES: dict[str, dict[str, str]] = {
    "push": {},
    "push-drop30": {"SANDBOX_NOTIFY_DROP": "0.3"},
    "polling": {},
}
PUSH_OFF = {"ADMIN_API_PUSH__ENABLED": "false"}
FAMILIES = (Family.ORDERS, Family.MESSAGES, Family.RETURNS, Family.ACTIVE_INVENTORY)
LISTING_START = iso_field("ListingDetails", "StartTime")

log = logging.getLogger("bench_freshness")


@dataclass(frozen=True)
class FreshnessOptions:
    sellers: int = 2
    measure_seconds: float = 75.0
    drain_seconds: float = 30.0
    sample_seconds: float = 2.0
    orders_per_day: float = 20_000
    messages_per_day: float = 4_000
    listings: int = 400
    history_days: int = 1
    backfill_days: float = 0.1
    first_pass_timeout: float = 600.0
    subscriptions_timeout: float = 120.0
    modes: tuple[str, ...] = tuple(MODES)


def runtime_options(options: FreshnessOptions, mode: str, data_dir: Path) -> RuntimeOptions:
    """``ebaysync up``'s system (its cadences, push on) with a busier sandbox; the mode's
    push faults or push off."""
    sandbox = {k: v for k, v in MODES[mode].items() if k.startswith("SANDBOX_")}
    return RuntimeOptions(
        data_dir=data_dir,
        admin_port=find_free_port(),
        sellers=options.sellers,
        service_env={
            "SCHEDULER_INITIAL_BACKFILL_DAYS": str(options.backfill_days),
            "OTEL_LOG_FORMAT": "text",
            **(PUSH_OFF if mode == "polling" else {}),
        },
        sandbox_env={
            "SANDBOX_PROFILE": "tiny",
            "SANDBOX_ORDERS_PER_DAY": str(options.orders_per_day),
            "SANDBOX_MESSAGES_PER_DAY": str(options.messages_per_day),
            "SANDBOX_LISTINGS": str(options.listings),
            "SANDBOX_HISTORY_DAYS": str(options.history_days),
            **sandbox,
        },
    )


# --- the source's changes ------------------------------------------------------------------


class SourceWatch:
    """The changes the sandbox's ground truth shows, read again and again."""

    def __init__(self, http: httpx.AsyncClient, accounts: dict[str, int]) -> None:
        self.http = http
        self.accounts = accounts
        self.changes: dict[tuple[str, int, str, datetime | None], Change] = {}
        self.listed: dict[str, set[str]] = {}
        self.last: datetime | None = None

    async def now(self) -> datetime:
        body = (await self.http.get("/sandbox/clock")).json()
        return datetime.fromisoformat(body["now"])

    async def _records(
        self, family: Family, username: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        truth = TRUTHS[family]
        response = await self.http.get(f"/sandbox/sellers/{username}/{truth.path}", params=params)
        response.raise_for_status()
        return truth.records(response.content)

    async def sample(self) -> None:
        """What changed since the last sample (the first only notes the listings live)."""
        now = await self.now()
        start, self.last = self.last, now
        for username, account_id in self.accounts.items():
            listings = await self._records(Family.ACTIVE_INVENTORY, username, {})
            ids = {TRUTHS[Family.ACTIVE_INVENTORY].key(r) for r in listings}
            known = self.listed.setdefault(username, set())
            if start is not None:
                for record in listings:
                    key = TRUTHS[Family.ACTIVE_INVENTORY].key(record)
                    at = LISTING_START(record)
                    if key not in known and at is not None and at > start:
                        self._add(Change("active_inventory", account_id, key, at))
            known |= ids
            if start is None:
                continue
            span = {"date_from": start.isoformat(), "date_to": now.isoformat()}
            for family in (Family.ORDERS, Family.MESSAGES, Family.RETURNS):
                truth = TRUTHS[family]
                assert truth.date is not None
                for record in await self._records(family, username, span):
                    if family is Family.MESSAGES and not received_message(record):
                        continue  # a reply the seller sent: eBay pushes nothing for it
                    at = truth.date(record)
                    if at is None or not start < at <= now:
                        continue
                    version = at if family is Family.ORDERS else None
                    self._add(Change(str(family), account_id, truth.key(record), at, version))

    def _add(self, change: Change) -> None:
        self.changes.setdefault(
            (change.family, change.account_id, change.key, change.version), change
        )


# --- the mirror's writes -------------------------------------------------------------------


async def writes_of(
    engine: AsyncEngine, changes: Sequence[Change]
) -> tuple[dict[tuple[str, int, str], list[Write]], dict[tuple[int, str], datetime]]:
    """The history events of the changed entities (id order), and the orders' current
    lastModifiedDate in the mirror."""
    wanted = {(c.family, c.account_id, c.key) for c in changes}
    events: dict[tuple[str, int, str], list[Write]] = {k: [] for k in wanted}
    current: dict[tuple[int, str], datetime] = {}
    async with engine.connect() as connection:
        for family in {c.family for c in changes}:
            keys = sorted({c.key for c in changes if c.family == family})
            rows = await connection.execute(
                text(
                    "SELECT account_id, entity_id, change_kind, occurred_at, changes "
                    "FROM ebay_events WHERE family = :family AND entity_id = ANY(:keys) "
                    "ORDER BY id"
                ),
                {"family": family, "keys": keys},
            )
            for account_id, entity_id, kind, occurred_at, diff in rows:
                if (key := (family, int(account_id), str(entity_id))) in events:
                    events[key].append(Write(str(kind), occurred_at, diff))
        rows = await connection.execute(
            text("SELECT account_id, order_id, last_modified_date FROM ebay_orders")
        )
        current = {(int(a), str(o)): d for a, o, d in rows}
    return events, current


# --- one mode ------------------------------------------------------------------------------


async def subscriptions_ready(engine: AsyncEngine, accounts: int) -> bool:
    """Every account has an enabled push subscription (the admin API's job ran)."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(DISTINCT account_id) FROM push_subscriptions "
                "WHERE status = 'ENABLED' AND account_id IS NOT NULL"
            )
        )
    return int(count or 0) >= accounts


async def wait_for(
    check: Callable[[], Any], within: float, what: str, say: Callable[[str], None]
) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise TimeoutError(f"{what}: not within {within}s")
        await asyncio.sleep(1.0)
    seconds = time.monotonic() - started
    say(f"  {what} after {seconds:.1f}s")
    return seconds


async def measure_mode(
    options: FreshnessOptions, mode: str, directory: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    with (directory / f"services-{mode}.log").open("w") as log_file:
        return await _measure_mode(options, mode, directory / mode, log_file, say)


async def _measure_mode(
    options: FreshnessOptions,
    mode: str,
    data_dir: Path,
    log_file: TextIO,
    say: Callable[[str], None],
) -> dict[str, Any]:
    runtime = Runtime(runtime_options(options, mode, data_dir))
    runtime.supervisor = Supervisor(stop_timeout=15.0, output=log_file)
    say(f"[{mode}] starting the system with {options.sellers} sandbox sellers ...")
    info = await runtime.start()
    engine = create_async_engine(info.database_url, pool_size=2)
    try:
        async with httpx.AsyncClient(base_url=info.sandbox_url, timeout=30) as http:
            pairs = await expected_pairs(engine)
            since = datetime(2000, 1, 1, tzinfo=UTC)

            async def first_pass() -> bool:
                return await pairs_done(engine, since) >= pairs

            await wait_for(first_pass, options.first_pass_timeout, f"{pairs} pairs ran once", say)
            if mode != "polling":
                await wait_for(
                    lambda: subscriptions_ready(engine, options.sellers),
                    options.subscriptions_timeout,
                    "push subscriptions enabled",
                    say,
                )
            async with engine.connect() as connection:
                accounts = {
                    str(u): int(i)
                    for u, i in await connection.execute(
                        text("SELECT username, id FROM ebay_accounts WHERE active")
                    )
                }
            watch = SourceWatch(http, accounts)
            await watch.sample()
            say(f"  measuring {options.measure_seconds:g}s, then {options.drain_seconds:g}s more")
            started = time.monotonic()
            while time.monotonic() - started < options.measure_seconds:
                await asyncio.sleep(options.sample_seconds)
                await watch.sample()
            await asyncio.sleep(options.drain_seconds)
            pushed = (await http.get("/sandbox/notifications/stats")).json()["totals"]
        changes = list(watch.changes.values())
        events, current = await writes_of(engine, changes)
        found = latencies(
            changes,
            lambda c: events.get((c.family, c.account_id, c.key), []),
            lambda c: current.get((c.account_id, c.key)),
        )
        restarts = sum(c.restarts for c in runtime.supervisor.children.values())
    finally:
        await engine.dispose()
        await runtime.stop()
    return {
        "measured_seconds": options.measure_seconds,
        "drain_seconds": options.drain_seconds,
        "service_restarts": restarts,
        "notifications": {k: pushed.get(k) for k in ("generated", "dropped", "delivered")},
        "families": figures(found),
    }


async def run_freshness(
    options: FreshnessOptions,
    *,
    data_dir: Path | None = None,
    out: Path | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every mode in turn, each on a fresh system; returns (and writes to ``out``) the figures."""
    result: dict[str, Any] = {"options": {**options.__dict__, "modes": list(options.modes)}}
    result["modes"] = {}
    with data_directory(data_dir) as directory:
        for mode in options.modes:
            result["modes"][mode] = await measure_mode(options, mode, directory, say)
    say("")
    for line in report_lines(result):
        say(line)
    if out is not None:
        await asyncio.to_thread(write_json, out, result)
        say(f"written to {out}")
    return result


def parse_options(argv: Sequence[str] | None) -> tuple[FreshnessOptions, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    d = FreshnessOptions()
    parser.add_argument("--sellers", type=int, default=d.sellers)
    parser.add_argument("--measure", type=float, default=d.measure_seconds, help="per mode")
    parser.add_argument("--drain", type=float, default=d.drain_seconds, help="wait after")
    parser.add_argument("--sample", type=float, default=d.sample_seconds, help="truth reads")
    parser.add_argument("--orders-per-day", type=float, default=d.orders_per_day)
    parser.add_argument("--messages-per-day", type=float, default=d.messages_per_day)
    parser.add_argument("--listings", type=int, default=d.listings)
    parser.add_argument("--backfill-days", type=float, default=d.backfill_days)
    parser.add_argument(
        "--modes", default=",".join(d.modes), help=f"comma-separated, of {', '.join(MODES)}"
    )
    parser.add_argument("--data-dir", type=Path, help="keep the data and services' logs here")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "freshness.json")
    args = parser.parse_args(argv)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    options = replace(
        d,
        sellers=args.sellers,
        measure_seconds=args.measure,
        drain_seconds=args.drain,
        sample_seconds=args.sample,
        orders_per_day=args.orders_per_day,
        messages_per_day=args.messages_per_day,
        listings=args.listings,
        backfill_days=args.backfill_days,
        modes=modes,
    )
    return options, args


def main(argv: Sequence[str] | None = None) -> int:
    options, args = parse_options(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.disable(logging.INFO)
    asyncio.run(run_freshness(options, data_dir=args.data_dir, out=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
