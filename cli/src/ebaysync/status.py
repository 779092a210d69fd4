"""``ebaysync status``: where every (account, family) pair stands, once or live (``--watch``).

:func:`load_pairs` reads PostgreSQL (the pairs of the scheduler: active accounts x the families
fetched today, plus any family a pair already has state for); everything else is pure:
:func:`pair_status` turns a pair's row into lag, markers and backfill progress, and
:func:`render` draws the table (with a progress bar per pair) that ``--watch`` refreshes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.db.sync import OPEN_RUN_STATUSES
from common.families import SNAPSHOT_FAMILIES, Family
from common.lag import pair_lag as lag_of
from common.settings import WindowSettings
from common.windows import WindowPolicy
from common.workers import (
    Light,
    NewestRun,
    WorkerVerdict,
    account_blocked,
    worker_facts,
    worker_verdict,
)

REFRESH_SECONDS = 1.0
# The admin UI's colours of the lights.
LIGHT_STYLES = {
    Light.OK: "green",
    Light.RUNNING: "blue",
    Light.IDLE: "dim",
    Light.DISABLED: "dim",
    Light.BEHIND: "yellow",
    Light.PAUSED: "yellow",
    Light.FAILING: "red",
}


@dataclass(frozen=True)
class PairRow:
    """One pair as stored: its account, ``sync_state`` and newest ``sync_runs`` row."""

    account_id: int
    house_name: str
    username: str
    needs_reauth: bool
    active: bool
    revoked_at: datetime | None
    family: str
    enabled: bool
    cursor: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    paused_until: datetime | None
    consecutive_failures: int
    # Where the pair's first window started (its backfill), from the runs still kept.
    backfill_start: datetime | None
    run_id: uuid.UUID | None = None
    run_status: str | None = None
    run_at: datetime | None = None
    run_window_from: datetime | None = None
    run_window_to: datetime | None = None
    pages_written: int = 0
    pages_expected: int | None = None
    rows_received: int = 0
    rows_inserted: int = 0
    rows_changed: int = 0
    run_error: str | None = None


@dataclass(frozen=True)
class PairStatus:
    row: PairRow
    # now - cursor (incremental), now - last success (snapshots); None before the first sync.
    lag: timedelta | None
    markers: tuple[str, ...]
    # The admin UI's status light and its reason.
    verdict: WorkerVerdict
    # 0..1 while catching up; None when unknown (never ran, a snapshot of unknown size).
    progress: float | None

    @property
    def running(self) -> bool:
        return self.row.run_status in OPEN_RUN_STATUSES

    def as_json(self) -> dict[str, Any]:
        r = self.row

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "account_id": r.account_id,
            "account": r.house_name,
            "username": r.username,
            "family": r.family,
            "cursor": iso(r.cursor),
            "last_success_at": iso(r.last_success_at),
            "lag_seconds": self.lag.total_seconds() if self.lag is not None else None,
            "markers": list(self.markers),
            "status": self.verdict.light.value,
            "status_reason": self.verdict.reason,
            "progress": self.progress,
            "last_run": None
            if r.run_status is None
            else {
                "status": r.run_status,
                "at": iso(r.run_at),
                "window_from": iso(r.run_window_from),
                "window_to": iso(r.run_window_to),
                "pages_written": r.pages_written,
                "pages_expected": r.pages_expected,
                "rows_received": r.rows_received,
                "rows_inserted": r.rows_inserted,
                "rows_changed": r.rows_changed,
                "error": r.run_error,
            },
            "last_error": r.last_error,
        }


def pair_lag(row: PairRow, now: datetime) -> timedelta | None:
    return lag_of(row.family, row.cursor, row.last_success_at, now)


def pair_markers(row: PairRow, now: datetime) -> tuple[str, ...]:
    markers = []
    if row.needs_reauth:
        markers.append("needs reauth")
    if row.paused_until is not None and row.paused_until > now:
        markers.append(f"paused until {row.paused_until.astimezone(UTC):%Y-%m-%d %H:%M}Z")
    if not row.enabled:
        markers.append("disabled")
    return tuple(markers)


def pair_progress(row: PairRow, now: datetime, settle_lag: timedelta) -> float | None:
    """How far the pair has come.

    Incremental: how far the cursor has moved from the backfill's start toward
    ``now - settle_lag`` (where a caught-up cursor stands). Snapshots: pages written of the
    pages expected while a run is open (unknown until its last page says how many), 1 once a
    snapshot succeeded.
    """
    if Family(row.family) in SNAPSHOT_FAMILIES:
        if row.run_status in OPEN_RUN_STATUSES:
            if row.pages_expected:
                return min(1.0, row.pages_written / row.pages_expected)
            return None
        return 1.0 if row.last_success_at is not None else None
    if row.backfill_start is None:
        return None
    target = now - settle_lag
    span = (target - row.backfill_start).total_seconds()
    reached = ((row.cursor or row.backfill_start) - row.backfill_start).total_seconds()
    if span <= 0:
        return 1.0
    return max(0.0, min(1.0, reached / span))


def pair_verdict(row: PairRow, now: datetime, policy: WindowPolicy) -> WorkerVerdict:
    """The same verdict as the admin UI's Workers page, from the same facts."""
    newest = (
        None
        if row.run_id is None or row.run_status is None or row.run_at is None
        else NewestRun(
            row.run_id,
            row.run_status,
            row.run_at,
            row.run_error,
            row.pages_written,
            row.pages_expected,
        )
    )
    facts = worker_facts(
        family=row.family,
        enabled=row.enabled,
        cursor=row.cursor,
        last_success_at=row.last_success_at,
        paused_until=row.paused_until,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        run=newest,
        blocked=account_blocked(row),
        now=now,
    )
    return worker_verdict(facts, now, policy)


def pair_status(row: PairRow, now: datetime, policy: WindowPolicy) -> PairStatus:
    return PairStatus(
        row,
        pair_lag(row, now),
        pair_markers(row, now),
        pair_verdict(row, now, policy),
        pair_progress(row, now, policy.settle_lag),
    )


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{seconds}s"


def _last_run(row: PairRow, now: datetime) -> Text:
    if row.run_status is None:
        return Text("never", style="dim")
    style = {
        "succeeded": "green",
        "failed": "red",
        "stale": "yellow",
        "running": "blue",
        "queued": "blue",
    }
    ago = format_duration(now - row.run_at) + " ago" if row.run_at else ""
    pages = f"{row.pages_written}/{row.pages_expected or '?'} pages"
    counts = f"{row.rows_received} rows (+{row.rows_inserted} ~{row.rows_changed})"
    line = Text(row.run_status, style=style.get(row.run_status, ""))
    line.append(f" {ago} · {pages} · {counts}")
    if row.run_error:
        line.append(f"\n{row.run_error[:120]}", style="red")
    return line


def _status_cell(status: PairStatus) -> Text:
    """The admin UI's light and reason, then the pair's markers."""
    verdict = status.verdict
    cell = Text(f"{verdict.light}: {verdict.reason}", style=LIGHT_STYLES[verdict.light])
    if status.markers:
        cell.append("\n" + ", ".join(status.markers), style="yellow")
    return cell


def render(statuses: Sequence[PairStatus], now: datetime) -> Table:
    """The status table: one line per pair, a progress bar while it catches up."""
    table = Table(title=f"ebaysync status at {now.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z")
    for column in ("account", "family", "cursor", "lag", "last run", "progress", "status"):
        table.add_column(column, no_wrap=column in ("cursor", "lag"))
    for status in statuses:
        row = status.row
        progress: RenderableType
        if status.progress is None:
            progress = Text("…" if status.running else "—", style="dim")
        else:
            bar = ProgressBar(total=1.0, completed=status.progress, width=20)
            progress = Group(bar, Text(f"{status.progress:.0%}"))
        table.add_row(
            f"{row.account_id} {row.house_name}",
            row.family,
            row.cursor.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if row.cursor else "—",
            format_duration(status.lag),
            _last_run(row, now),
            progress,
            _status_cell(status),
        )
    return table


PAIRS_SQL = """
SELECT a.id AS account_id, a.house_name, a.username, a.needs_reauth, a.active, a.revoked_at,
       f.family, coalesce(s.enabled, true) AS enabled, s.cursor, s.last_success_at,
       s.last_error, s.paused_until, coalesce(s.consecutive_failures, 0) AS consecutive_failures,
       (SELECT min(x.window_from) FROM sync_runs x
        WHERE x.account_id = a.id AND x.family = f.family) AS backfill_start,
       r.run_id, r.status AS run_status, r.updated_at AS run_at, r.window_from AS run_window_from,
       r.window_to AS run_window_to, coalesce(r.pages_written, 0) AS pages_written,
       r.pages_expected, coalesce(r.rows_received, 0) AS rows_received,
       coalesce(r.rows_inserted, 0) AS rows_inserted,
       coalesce(r.rows_changed, 0) AS rows_changed, r.error AS run_error
FROM ebay_accounts a
CROSS JOIN LATERAL (
    SELECT unnest(CAST(:families AS text[])) AS family
    UNION
    SELECT st.family FROM sync_state st WHERE st.account_id = a.id AND :every_family
) f
LEFT JOIN sync_state s ON s.account_id = a.id AND s.family = f.family
LEFT JOIN LATERAL (
    SELECT * FROM sync_runs rr WHERE rr.account_id = a.id AND rr.family = f.family
    ORDER BY rr.updated_at DESC LIMIT 1
) r ON true
WHERE (CAST(:account AS text) IS NULL AND a.active)
   OR a.username = :account OR a.house_name = :account OR CAST(a.id AS text) = :account
ORDER BY a.id, f.family
"""


async def load_pairs(
    engine: AsyncEngine, account: str | None, families: Sequence[Family] | None
) -> list[PairRow]:
    """Every pair of the active accounts (or of the one named: id, username, house name)."""
    chosen = families or sorted(Family)
    async with engine.connect() as connection:
        result = await connection.execute(
            text(PAIRS_SQL),
            {
                "families": [str(f) for f in chosen],
                "every_family": not families,
                "account": account,
            },
        )
        return [PairRow(**row) for row in result.mappings()]


async def statuses(
    engine: AsyncEngine, account: str | None, families: Sequence[Family] | None
) -> list[PairStatus]:
    windows = WindowSettings()
    now = datetime.now(UTC)
    return [
        pair_status(row, now, windows.policy(Family(row.family)))
        for row in await load_pairs(engine, account, families)
    ]


async def print_status(
    database_url: str,
    account: str | None,
    families: Sequence[Family] | None,
    console: Console | None = None,
) -> list[PairStatus]:
    """Read the pairs once; print the table unless ``console`` is None and JSON is wanted."""
    engine = create_async_engine(database_url)
    try:
        found = await statuses(engine, account, families)
    finally:
        await engine.dispose()
    if console is not None:
        console.print(render(found, datetime.now(UTC)))
    return found


async def watch_status(
    database_url: str,
    account: str | None,
    families: Sequence[Family] | None,
    console: Console | None = None,
    refreshes: int | None = None,
) -> None:
    """Redraw the table every second until interrupted (or ``refreshes`` times)."""
    engine = create_async_engine(database_url, pool_size=1)
    done = 0
    try:
        first = await statuses(engine, account, families)
        with Live(render(first, datetime.now(UTC)), console=console, auto_refresh=False) as live:
            while refreshes is None or done < refreshes:
                await asyncio.sleep(REFRESH_SECONDS)
                found = await statuses(engine, account, families)
                live.update(render(found, datetime.now(UTC)), refresh=True)
                done += 1
    finally:
        await engine.dispose()
