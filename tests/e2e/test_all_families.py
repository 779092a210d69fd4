"""Every family, twenty sellers, two replicas of fetcher and writer: the mirror equals eBay.

The sandbox's clock is frozen and the scheduler plans in its time, so the sellers hold still
while the 90-day backfill runs and `ebaysync verify` can demand exact equality. Then the clock
jumps a day: orders change, listings end, cases close. After the next cycles the mirror equals
the sandbox again, and the history holds exactly one event per entity that was created,
changed or ended — none for the rest, none twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.events import EbayEvent
from common.families import SNAPSHOT_FAMILIES, Family
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.truths import TRUTHS
from ebaysync.verify import mirrored_records, verify
from testkit import servers
from testkit.progress import caught_up, differences
from testkit.servers import DatabaseServer
from testkit.system import running_system
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

SELLERS = 20
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SETTLE_LAG = timedelta(seconds=60)
CADENCE = timedelta(hours=1)
ADVANCE = timedelta(days=1)


@dataclass
class System:
    runtime: Runtime
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient

    async def caught_up(self, snapshots_since: datetime | None = None) -> bool:
        return await caught_up(
            self.sessions,
            self.sandbox,
            accounts=SELLERS,
            settle_lag=SETTLE_LAG,
            cadence=CADENCE,
            snapshots_since=snapshots_since,
        )


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[System]:
    database_url = database_server.create_database(servers.unique_database_name("families"))
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_url,
        admin_port=find_free_port(),
        sellers=SELLERS,
        replicas={"fetcher": 2, "writer": 2},
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            # After the backfill nothing is due until the test moves the sandbox's clock.
            "SCHEDULER_CADENCE_SECONDS": str(CADENCE.total_seconds()),
            "SCHEDULER_SNAPSHOT_CADENCE_SECONDS": str(CADENCE.total_seconds()),
            "SCHEDULER_SETTLE_LAG_SECONDS": str(SETTLE_LAG.total_seconds()),
            "SCHEDULER_OVERLAP_SECONDS": "3600",
            "SCHEDULER_MAX_WINDOW_DAYS": "30",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "90",
            "OTEL_LOG_FORMAT": "text",
        },
        sandbox_env={
            "SANDBOX_CLOCK_FROZEN": "true",
            # Mixed sizes; sellers 2 and 4 (and every sixth after them) sell on eBay UK and
            # Germany, so their Finances calls are signed.
            "SANDBOX_PROFILE": "tiny,small,tiny,small,tiny",
            "SANDBOX_LISTINGS": "40",
        },
    )
    async with running_system(options, sandbox_timeout=60) as running:
        yield System(running.runtime, running.sessions, running.sandbox)


Snapshot = dict[tuple[int, Family, str], dict[str, object]]


async def mirror_snapshot(system: System) -> Snapshot:
    """Every live mirrored entity of every account and family, by key."""
    snapshot: Snapshot = {}
    async with system.sessions() as session:
        account_ids = list(await session.scalars(select(EbayAccount.id)))
    for account_id in account_ids:
        for family, truth in TRUTHS.items():
            live_only = family in SNAPSHOT_FAMILIES
            records = await mirrored_records(
                system.sessions, truth, account_id, live_only=live_only
            )
            for key, payload in records.items():
                snapshot[(account_id, family, key)] = payload
    return snapshot


async def test_every_family_of_twenty_sellers_mirrors_the_sandbox_before_and_after_a_day(
    system: System,
) -> None:
    assert set(TRUTHS) == set(Family)
    await eventually(lambda: system.caught_up(), within=900, what="the backfill")
    reports = await verify(system.sessions, system.sandbox)
    assert len(reports) == SELLERS * len(Family)
    assert differences(reports) == []
    compared_after_backfill = sum(r.compared for r in reports)
    assert compared_after_backfill > 5_000

    before = await mirror_snapshot(system)
    async with system.sessions() as session:
        last_event = await session.scalar(select(func.max(EbayEvent.id))) or 0

    advanced = datetime.now(UTC)
    await system.sandbox.post("/sandbox/clock/advance", json={"seconds": ADVANCE.total_seconds()})
    await eventually(lambda: system.caught_up(advanced), within=600, what="the next cycles")
    reports = await verify(system.sessions, system.sandbox)
    assert differences(reports) == []
    compared_after_a_day = sum(r.compared for r in reports)

    # Exactly the expected history: per entity one `created`, `changed` or `ended` event if
    # the day created, changed or ended it; none otherwise.
    after = await mirror_snapshot(system)
    expected = Counter[tuple[int, str, str, str]]()
    for (account_id, family, key), payload in after.items():
        if (account_id, family, key) not in before:
            expected[(account_id, str(family), key, "created")] += 1
        elif before[(account_id, family, key)] != payload:
            expected[(account_id, str(family), key, "changed")] += 1
    for account_id, family, key in before.keys() - after.keys():
        if family in SNAPSHOT_FAMILIES:
            expected[(account_id, str(family), key, "ended")] += 1
    async with system.sessions() as session:
        events = await session.execute(
            select(
                EbayEvent.account_id, EbayEvent.family, EbayEvent.entity_id, EbayEvent.change_kind
            ).where(EbayEvent.id > last_event)
        )
        recorded = Counter((a, f, e, k) for a, f, e, k in events)
    assert sum(expected.values()) > 100, "a day should change a lot"
    assert {k for k in expected if k[3] == "changed"}, "some entities should have changed"
    assert recorded == expected
    # The figures of this run, for the record (artifacts/ is not versioned).
    kinds = Counter(kind for (_, _, _, kind), n in expected.items() for _ in range(n))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "all-families-e2e.json").write_text(
        json.dumps(
            {
                "sellers": SELLERS,
                "families": len(Family),
                "compared_after_backfill": compared_after_backfill,
                "compared_after_a_day": compared_after_a_day,
                "events_after_a_day": dict(kinds),
            },
            indent=2,
        )
    )
