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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.db.accounts import EbayAccount
from common.db.events import EbayEvent
from common.db.push import ReceivedNotification
from common.db.sync import SyncRun
from common.families import Family
from ebaysync.runtime import LocalSecrets, Runtime, RuntimeOptions
from ebaysync.truths import TRUTHS
from ebaysync.verify import source_records, verify
from testkit import servers
from testkit.progress import caught_up, differences, sandbox_now
from testkit.push import push_service_env, push_stats, subscribe
from testkit.push_checks import (
    all_windowed,
    first_writers,
    mirrored_as_source,
    notified_targets,
)
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SETTLE_LAG = timedelta(minutes=2)
# The safety net's cadence, short (sandbox time): production polls every 5 minutes.
CADENCE = timedelta(hours=1)
PUSHED = (Family.ORDERS, Family.MESSAGES, Family.RETURNS)


@dataclass
class System:
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    account_id: int
    username: str
    admin_url: str
    client_secret: str

    async def caught_up(self, snapshots_since: datetime | None = None) -> bool:
        return await caught_up(
            self.sessions,
            self.sandbox,
            accounts=1,
            settle_lag=SETTLE_LAG,
            cadence=CADENCE,
            snapshots_since=snapshots_since,
        )

    async def quiet(self, after_id: int) -> bool:
        """Every notification delivered or dropped, windowed, and no run open."""
        if not await all_windowed(self.sessions, self.sandbox, self.account_id, after_id):
            return False
        async with self.sessions() as session:
            open_runs = await session.scalar(
                select(func.count())
                .select_from(SyncRun)
                .where(SyncRun.status.in_(["queued", "running"]))
            )
        return open_runs == 0


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[System]:
    database_url = database_server.create_database(servers.unique_database_name("lossy"))
    admin_port = find_free_port()
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_url,
        admin_port=admin_port,
        sellers=1,
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            "SCHEDULER_CADENCE_SECONDS": str(CADENCE.total_seconds()),
            "SCHEDULER_SNAPSHOT_CADENCE_SECONDS": str(CADENCE.total_seconds()),
            "SCHEDULER_SETTLE_LAG_SECONDS": str(SETTLE_LAG.total_seconds()),
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "3",
            "OTEL_LOG_FORMAT": "text",
            **push_service_env(admin_port),
        },
        sandbox_env={
            "SANDBOX_CLOCK_FROZEN": "true",
            "SANDBOX_ORDERS_PER_DAY": "600",
            "SANDBOX_MESSAGES_PER_DAY": "150",
            "SANDBOX_HISTORY_DAYS": "5",
            "SANDBOX_NOTIFY_DROP": "0.3",
            "SANDBOX_NOTIFY_DUPLICATE": "0.1",
            "SANDBOX_NOTIFY_REORDER": "0.1",
            "SANDBOX_NOTIFY_DELAY": "0.1",
            "SANDBOX_NOTIFY_DELAY_SECONDS": "1",
        },
    )
    runtime = Runtime(options)
    info = await runtime.start()
    engine = create_async_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session:
            account = (await session.scalars(select(EbayAccount))).one()
        secret = LocalSecrets.load_or_create(options.data_dir / "secrets.json")
        async with httpx.AsyncClient(base_url=info.sandbox_url, timeout=60) as sandbox:
            yield System(
                sessions,
                sandbox,
                account.id,
                account.username,
                info.admin_url,
                secret.sandbox_client_secret,
            )
    finally:
        await runtime.stop()
        await engine.dispose()


async def advance(system: System, by: timedelta) -> None:
    resp = await system.sandbox.post("/sandbox/clock/advance", json={"seconds": by.total_seconds()})
    assert resp.status_code == 200, resp.text


async def test_with_30_percent_of_notifications_dropped_the_safety_net_restores_the_truth(
    system: System,
) -> None:
    await eventually(lambda: system.caught_up(), within=240, what="the backfill")
    await subscribe(system.sandbox, system.client_secret, system.username, system.admin_url)
    async with system.sessions() as session:
        seen = await session.scalar(select(func.max(ReceivedNotification.id))) or 0
        last_event = await session.scalar(select(func.max(EbayEvent.id))) or 0
        runs_before = set(await session.scalars(select(SyncRun.run_id)))
    start = await sandbox_now(system.sandbox)

    # 1. Half a cadence of changes: only notifications can bring them now.
    await advance(system, CADENCE / 2)
    await eventually(lambda: system.quiet(seen), within=120, what="the notified changes")
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
        lambda: system.caught_up(snapshots_since=advanced), within=180, what="the safety net"
    )
    await eventually(lambda: system.quiet(seen), within=120, what="the last notifications")
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
