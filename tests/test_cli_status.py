"""``ebaysync status``: lag, markers, the status light and progress are pure; the command reads
PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from common.db.sync import SyncRun, SyncState
from common.families import Family
from common.settings import WindowSettings
from common.workers import STUCK_AFTER, Light
from ebaysync.cli import app
from ebaysync.status import (
    PairRow,
    format_duration,
    pair_lag,
    pair_markers,
    pair_progress,
    pair_status,
    render,
    statuses,
    watch_status,
)
from testkit.factories import create_account

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
SETTLE = timedelta(minutes=2)
POLICY = dataclasses.replace(WindowSettings().policy(Family.ORDERS), settle_lag=SETTLE)


def row(**changes: object) -> PairRow:
    base = PairRow(
        account_id=7,
        house_name="House 7",
        username="seller7",
        needs_reauth=False,
        active=True,
        revoked_at=None,
        family="orders",
        enabled=True,
        cursor=None,
        last_success_at=None,
        last_error=None,
        paused_until=None,
        consecutive_failures=0,
        backfill_start=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_progress_is_how_far_the_cursor_came_from_the_backfill_start_toward_now() -> None:
    start = NOW - SETTLE - timedelta(days=90)
    assert pair_progress(row(), NOW, SETTLE) is None  # never ran
    assert pair_progress(row(backfill_start=start), NOW, SETTLE) == 0.0
    halfway = row(backfill_start=start, cursor=start + timedelta(days=45))
    assert pair_progress(halfway, NOW, SETTLE) == pytest.approx(0.5)
    caught_up = row(backfill_start=start, cursor=NOW - SETTLE)
    assert pair_progress(caught_up, NOW, SETTLE) == 1.0


def test_snapshot_progress_is_pages_written_of_pages_expected() -> None:
    offers = row(family="offers")
    running = dataclasses.replace(offers, run_status="running", pages_written=3)
    assert pair_progress(running, NOW, SETTLE) is None  # size not known yet
    known = dataclasses.replace(running, pages_expected=4)
    assert pair_progress(known, NOW, SETTLE) == 0.75
    assert pair_progress(dataclasses.replace(offers, last_success_at=NOW), NOW, SETTLE) == 1.0


def test_lag_and_markers() -> None:
    assert pair_lag(row(), NOW) is None
    assert pair_lag(row(cursor=NOW - timedelta(minutes=5)), NOW) == timedelta(minutes=5)
    snapshot = row(family="offers", cursor=None, last_success_at=NOW - timedelta(hours=1))
    assert pair_lag(snapshot, NOW) == timedelta(hours=1)
    assert pair_markers(row(), NOW) == ()
    troubled = row(needs_reauth=True, enabled=False, paused_until=NOW + timedelta(minutes=30))
    assert pair_markers(troubled, NOW) == (
        "needs reauth",
        "paused until 2025-06-01 12:30Z",
        "disabled",
    )
    assert pair_markers(row(paused_until=NOW - timedelta(seconds=1)), NOW) == ()


def test_durations_read_at_a_glance() -> None:
    assert format_duration(None) == "—"
    assert format_duration(timedelta(seconds=42)) == "42s"
    assert format_duration(timedelta(minutes=3, seconds=5)) == "3m 5s"
    assert format_duration(timedelta(days=2, hours=4, minutes=1)) == "2d 4h"


def test_the_table_shows_each_pair_with_its_bar_and_last_run() -> None:
    start = NOW - SETTLE - timedelta(days=10)
    behind = row(
        backfill_start=start,
        cursor=start + timedelta(days=4),
        run_id=uuid.uuid4(),
        run_status="failed",
        run_at=NOW - timedelta(minutes=1),
        pages_written=2,
        rows_received=400,
        rows_inserted=390,
        run_error="eBay said 500",
    )
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(render([pair_status(behind, NOW, POLICY)], NOW))
    shown = console.export_text()
    assert "7 House 7" in shown and "orders" in shown
    assert "40%" in shown
    assert "failed 1m 0s ago · 2/? pages · 400 rows (+390 ~0)" in shown
    assert "eBay said 500" in shown
    assert "failing: eBay said 500" in shown  # the admin UI's light and reason


def test_the_status_light_is_the_admin_uis_from_the_same_facts() -> None:
    """The verdict of :mod:`common.workers`, fed from the status query's columns: an account
    that needs reauth, a stuck run, a pair behind and one up to date."""
    reauth = pair_status(row(needs_reauth=True), NOW, POLICY).verdict
    assert reauth.light is Light.FAILING and "reconnect the account" in reauth.reason
    stuck = row(
        cursor=NOW - SETTLE,
        run_id=uuid.uuid4(),
        run_status="running",
        run_at=NOW - STUCK_AFTER - timedelta(seconds=1),
    )
    assert pair_status(stuck, NOW, POLICY).verdict.reason.startswith(
        f"run {stuck.run_id} made no progress"
    )
    behind = pair_status(row(cursor=NOW - timedelta(hours=3)), NOW, POLICY).verdict
    assert (behind.light, behind.reason) == (Light.BEHIND, "3h behind")
    fresh = pair_status(row(cursor=NOW - SETTLE), NOW, POLICY).verdict
    assert fresh.light is Light.OK


# --- against PostgreSQL ------------------------------------------------------------------


async def seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, datetime]:
    """An account mid-backfill of orders: one window done, the next one running."""
    now = datetime.now(UTC)
    start = now - timedelta(days=30)
    async with sessions.begin() as session:
        account = await create_account(session, needs_reauth=True)
        session.add(
            SyncState(
                account_id=account.id,
                family=str(Family.ORDERS),
                cursor=start + timedelta(days=15),
                last_success_at=now - timedelta(seconds=30),
                paused_until=now + timedelta(hours=1),
            )
        )
        await session.flush()
        for window_from, status in ((start, "succeeded"), (start + timedelta(days=14), "running")):
            session.add(
                SyncRun(
                    run_id=uuid.uuid4(),
                    account_id=account.id,
                    family=str(Family.ORDERS),
                    trigger="schedule",
                    window_from=window_from,
                    window_to=window_from + timedelta(days=15),
                    status=status,
                    updated_at=now if status == "running" else now - timedelta(minutes=5),
                    pages_written=3,
                    rows_received=600,
                    rows_inserted=500,
                )
            )
    return account.id, start


async def test_status_reads_cursor_last_run_and_markers_from_the_database(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], migrated_database_url: str
) -> None:
    account_id, start = await seed(sessions)
    found = {s.row.family: s for s in await statuses(engine, str(account_id), None)}
    assert "orders" in found  # with every other family fetched today
    orders = found["orders"]
    assert orders.row.backfill_start == start
    assert orders.row.run_status == "running" and orders.running
    assert orders.lag is not None and timedelta(days=14) < orders.lag < timedelta(days=16)
    assert orders.progress is not None and 0.45 < orders.progress < 0.55
    assert orders.markers[0] == "needs reauth" and orders.markers[1].startswith("paused until")

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        [
            "status",
            "--database-url",
            migrated_database_url,
            "--account",
            str(account_id),
            "--family",
            "orders",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    [printed] = json.loads(result.output)
    assert printed["account_id"] == account_id and printed["family"] == "orders"
    assert printed["last_run"]["status"] == "running"
    assert printed["last_run"]["rows_received"] == 600
    assert printed["markers"][0] == "needs reauth"

    table = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["status", "--database-url", migrated_database_url, "--account", str(account_id)],
    )
    assert table.exit_code == 0, table.output
    # A terminal as narrow as the runner's wraps the cells: look for words.
    assert "orders" in table.output and "running" in table.output and "reauth" in table.output


async def test_watch_redraws_the_live_view(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], migrated_database_url: str
) -> None:
    account_id, _ = await seed(sessions)
    screen = io.StringIO()
    console = Console(file=screen, width=200, force_terminal=True)
    await watch_status(migrated_database_url, str(account_id), [Family.ORDERS], console, 2)
    drawn = screen.getvalue()
    assert drawn.count("ebaysync status at") >= 3  # the first frame and two refreshes
    assert "needs reauth" in drawn
