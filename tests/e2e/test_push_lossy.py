"""A lossy push channel: 30 % of notifications dropped, some repeated, reordered or late.

Every service runs as its own process (``ebaysync.runtime``); the sandbox drops, duplicates,
reorders and delays its notifications (``SANDBOX_NOTIFY_*``) while its sellers' orders,
messages and returns change. The sandbox's clock is frozen and moved by the test, and the
scheduler plans in its time, so "one safety-net cadence" is exact:

1. Half a cadence passes: polling is not due. What was notified arrives through targeted
   windows (trigger ``notification``), exactly as the source now holds it; what was dropped
   waits.
2. One cadence passes: polling, the safety net, runs, and ``ebaysync verify`` finds the mirror
   equal to the sandbox's ground truth: a lost notification cost freshness, never data
   (docs/adr/0018-push-notifications.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from common.db.events import EbayEvent
from common.db.push import ReceivedNotification
from common.db.sync import SyncRun
from common.families import Family
from ebaysync.truths import TRUTHS
from ebaysync.verify import source_records, verify
from testkit.progress import caught_up as progress_caught_up
from testkit.progress import differences, sandbox_now
from testkit.push import push_stats, subscribe
from testkit.push_checks import (
    all_windowed,
    first_writers,
    mirrored_as_source,
    no_open_runs,
    notified_targets,
)
from testkit.push_system import PushSystem, push_system
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SETTLE_LAG = timedelta(minutes=2)
# The safety net's cadence, short (sandbox time): production polls every 5 minutes.
CADENCE = timedelta(hours=1)
PUSHED = (Family.ORDERS, Family.MESSAGES, Family.RETURNS)


async def caught_up(system: PushSystem, snapshots_since: datetime | None = None) -> bool:
    return await progress_caught_up(
        system.sessions,
        system.sandbox,
        accounts=1,
        settle_lag=SETTLE_LAG,
        cadence=CADENCE,
        snapshots_since=snapshots_since,
    )


async def quiet(system: PushSystem, after_id: int) -> bool:
    """Every notification delivered or dropped, windowed, and no run open."""
    if not await all_windowed(system.sessions, system.sandbox, system.account_id, after_id):
        return False
    return await no_open_runs(system.sessions)


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[PushSystem]:
    async with push_system(
        nats_url,
        database_server,
        tmp_path,
        "lossy",
        cadence=CADENCE,
        settle_lag=SETTLE_LAG,
        backfill_days=3,
        sandbox_env={
            "SANDBOX_ORDERS_PER_DAY": "600",
            "SANDBOX_MESSAGES_PER_DAY": "150",
            "SANDBOX_HISTORY_DAYS": "5",
            # The lossy channel: the share of notifications dropped, sent twice, held back
            # behind the next one, or sent a second late.
            "SANDBOX_NOTIFY_DROP": "0.3",
            "SANDBOX_NOTIFY_DUPLICATE": "0.1",
            "SANDBOX_NOTIFY_REORDER": "0.1",
            "SANDBOX_NOTIFY_DELAY": "0.1",
            "SANDBOX_NOTIFY_DELAY_SECONDS": "1",
        },
    ) as running:
        yield running


async def advance(system: PushSystem, by: timedelta) -> None:
    resp = await system.sandbox.post("/sandbox/clock/advance", json={"seconds": by.total_seconds()})
    assert resp.status_code == 200, resp.text


async def test_with_30_percent_of_notifications_dropped_the_safety_net_restores_the_truth(
    system: PushSystem,
) -> None:
    await eventually(lambda: caught_up(system), within=240, what="the backfill")
    await subscribe(system.sandbox, system.client_secret, system.username, system.admin_url)
    async with system.sessions() as session:
        seen = await session.scalar(select(func.max(ReceivedNotification.id))) or 0
        last_event = await session.scalar(select(func.max(EbayEvent.id))) or 0
        runs_before = set(await session.scalars(select(SyncRun.run_id)))
    start = await sandbox_now(system.sandbox)

    # 1. Half a cadence of changes: only notifications can bring them now.
    await advance(system, CADENCE / 2)
    await eventually(lambda: quiet(system, seen), within=120, what="the notified changes")
    totals = (await push_stats(system.sandbox))["totals"]
    assert totals["dropped"] > 0 and totals["delivered"] > 0, totals
    assert totals["duplicated"] > 0 and totals["reordered"] > 0, totals
    async with system.sessions() as session:
        triggers = {
            r.trigger
            for r in await session.scalars(
                select(SyncRun).where(SyncRun.account_id == system.account_id)
            )
            if r.run_id not in runs_before
        }
    assert triggers == {"notification"}, "polling was not due yet"
    lagging: dict[Family, set[str]] = {}
    for family in PUSHED:
        named = await notified_targets(system.sessions, system.account_id, family, seen)
        assert named or family is Family.RETURNS, f"some {family} were notified"
        # What was notified is mirrored as the source holds it, through notification windows.
        assert (
            await mirrored_as_source(
                system.sessions, system.sandbox, system.account_id, system.username, family, named
            )
            == {}
        )
        writers = await first_writers(system.sessions, system.account_id, family, named, last_event)
        assert set(writers.values()) <= {"notification"}
        assert set(writers) <= named
        # What changed at the source since: the dropped part of it is not mirrored yet.
        changed = await source_records(system.sandbox, TRUTHS[family], system.username, start)
        lagging[family] = set(
            await mirrored_as_source(
                system.sessions,
                system.sandbox,
                system.account_id,
                system.username,
                family,
                set(changed),
            )
        )
    assert lagging[Family.ORDERS], "some order changes were only in dropped notifications"

    # 2. One safety-net cadence later, polling has caught up: the mirror equals the source.
    advanced = datetime.now(UTC)
    await advance(system, CADENCE)
    await eventually(
        lambda: caught_up(system, snapshots_since=advanced), within=180, what="the safety net"
    )
    await eventually(lambda: quiet(system, seen), within=120, what="the last notifications")
    reports = await verify(system.sessions, system.sandbox)
    assert len(reports) == len(Family)
    assert differences(reports) == []
    for family, keys in lagging.items():
        assert (
            await mirrored_as_source(
                system.sessions,
                system.sandbox,
                system.account_id,
                system.username,
                family,
                keys,
            )
            == {}
        ), f"{family}: the changes the notifications missed are mirrored now"
