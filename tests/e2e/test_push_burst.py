"""A burst of a thousand notifications for one account: one window in flight per pair, no loss.

Every service runs as its own process (``ebaysync.runtime``). After the backfill the sandbox's
clock jumps a few hours at a time, each jump a burst of a few hundred ORDER_CONFIRMATION,
ITEM_MARKED_SHIPPED, NEW_MESSAGE and ORDER_RETURN_ACTIVITY notifications for the one seller,
arriving while the previous burst's targeted windows are still being fetched and written.
Polling is a day away, so whatever the mirror holds of the burst came through notifications.

* **One window in flight per pair**: no two runs of an (account, family) pair overlap in their
  queued → finished intervals in ``sync_runs``, and none was superseded (``stale``), which is
  what a second window of a pair in flight does to the first (docs/adr/0011-fencing.md).
* **None lost**: every entity a notification named is mirrored exactly as the sandbox's ground
  truth holds it now, and every notification was turned into a window (coalesced: fewer
  windows than notifications).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from common.db.push import ReceivedNotification
from common.db.sync import SyncRun
from common.families import Family
from testkit.progress import caught_up, sandbox_now
from testkit.push import push_stats, subscribe
from testkit.push_checks import (
    all_windowed,
    mirrored_as_source,
    no_open_runs,
    notifications_recorded,
    notified_targets,
    overlapping_runs,
)
from testkit.push_system import PushSystem, push_system
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SETTLE_LAG = timedelta(minutes=2)
# Polling is a day away: only notifications bring the burst in.
CADENCE = timedelta(days=1)
BURST = 1_000
# Jumps stay within the sandbox's token lifetime (2 h): a frozen clock moved by hours in a second
# would expire every token between two calls, which no real clock does.
JUMP = timedelta(minutes=10)


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[PushSystem]:
    async with push_system(
        nats_url,
        database_server,
        tmp_path,
        "burst",
        cadence=CADENCE,
        settle_lag=SETTLE_LAG,
        backfill_days=0.25,
        sandbox_env={
            "SANDBOX_ORDERS_PER_DAY": "9000",
            "SANDBOX_MESSAGES_PER_DAY": "2000",
            "SANDBOX_HISTORY_DAYS": "1",
        },
    ) as running:
        yield running


async def test_a_burst_of_a_thousand_notifications_keeps_one_window_per_pair_and_loses_none(
    system: PushSystem,
) -> None:
    async def backfilled() -> bool:
        return await caught_up(
            system.sessions, system.sandbox, accounts=1, settle_lag=SETTLE_LAG, cadence=CADENCE
        )

    await eventually(backfilled, within=240, what="the backfill")
    await subscribe(system.sandbox, system.client_secret, system.username, system.admin_url)
    async with system.sessions() as session:
        seen_before = await session.scalar(select(func.max(ReceivedNotification.id))) or 0
        runs_before = set(await session.scalars(select(SyncRun.run_id)))
    start = await sandbox_now(system.sandbox)

    # Jump after jump until a thousand notifications went out; each jump lands while the last
    # one's windows are in flight.
    for _ in range(12):
        resp = await system.sandbox.post(
            "/sandbox/clock/advance", json={"seconds": JUMP.total_seconds()}
        )
        assert resp.status_code == 200, resp.text
        await system.sandbox.post("/sandbox/notifications/scan")
        if (await push_stats(system.sandbox))["totals"]["generated"] >= BURST:
            break
    assert await sandbox_now(system.sandbox) - start <= 12 * JUMP, "polling stays off"

    async def drained() -> bool:
        return await all_windowed(system.sessions, system.sandbox, system.account_id, seen_before)

    await eventually(drained, within=150, what="every notification delivered and windowed")
    totals = (await push_stats(system.sandbox))["totals"]
    assert totals["delivered"] >= BURST and totals["dropped"] == totals["failed"] == 0, totals
    received = await notifications_recorded(system.sessions, system.account_id, seen_before)
    assert received >= BURST

    await eventually(
        lambda: no_open_runs(system.sessions), within=120, what="the targeted runs done"
    )

    async with system.sessions() as session:
        runs = list(
            await session.scalars(select(SyncRun).where(SyncRun.account_id == system.account_id))
        )
    burst_runs = [r for r in runs if r.run_id not in runs_before]
    assert {r.trigger for r in burst_runs} == {"notification"}, "no polling in the burst"
    assert [(r.family, r.status, r.error) for r in burst_runs if r.status != "succeeded"] == []
    assert overlapping_runs(runs) == []
    # Coalesced: ids that came while their pair was in flight went with one later window.
    assert len(burst_runs) < received

    # None lost: each named entity is mirrored exactly as the source holds it now.
    for family in (Family.ORDERS, Family.MESSAGES, Family.RETURNS):
        named = await notified_targets(system.sessions, system.account_id, family, seen_before)
        assert named or family is Family.RETURNS, f"the burst named some {family}"
        wrong = await mirrored_as_source(
            system.sessions, system.sandbox, system.account_id, system.username, family, named
        )
        assert wrong == {}, f"{family}: {len(wrong)} of {len(named)} not as the source: {wrong}"
