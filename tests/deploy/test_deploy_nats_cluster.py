"""A 3-node NATS cluster (deploy/nats/nats.conf) loses nothing when a node dies mid-sync.

Three nats-server processes route to each other on loopback with the production config and
users; every stream is replicated three times (deploy/ops.py, as the topology Job does). The
services run as their own NATS users behind a small TCP balancer — what the Kubernetes Service
"nats" is to them — against a sandbox seller with a 90-day history. When the first window is
committed, the node that leads SYNC_PAGES is killed with SIGKILL: streams elect new leaders
while the fetcher publishes and the writer consumes. The backfill must still finish and the
mirror must equal the sandbox's ground truth with no duplicate history event,
no permission violation in any server log, and every service connected as its own user.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from embedded_servers import find_free_port
from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.accounts import EbayAccount
from common.db.orders import EbayOrder
from common.db.sync import SyncRun, SyncState
from common.families import Family
from common.streams import (
    BUCKETS,
    PAGES_STREAM,
)
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.truths import TRUTHS
from ebaysync.verify import verify_pair
from testkit import servers
from testkit.deploy_config import load_ops
from testkit.nats_cluster import (
    SERVICE_PREFIXES,
    Balancer,
    Node,
    replicated,
    service_connections,
    start_cluster,
    url,
)
from testkit.progress import sandbox_now
from testkit.servers import DatabaseServer
from testkit.system import running_system
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]


SETTLE_LAG = timedelta(minutes=10)
BACKFILL_DAYS = 90


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    nodes = start_cluster(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        for node in nodes:
            node.server.stop()


@pytest_asyncio.fixture
async def balancer(cluster: list[Node]) -> AsyncIterator[Balancer]:
    proxy = Balancer([node.server.port for node in cluster])
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest_asyncio.fixture
async def admin(balancer: Balancer) -> AsyncIterator[NatsClient]:
    async def quiet(exc: Exception) -> None:
        pass

    client = await nats.connect(url("admin", balancer), error_cb=quiet, max_reconnect_attempts=-1)
    # JetStream answers once the nodes have elected a metadata leader.
    await eventually(
        lambda: _true(client.jetstream(timeout=2).account_info()),
        within=60,
        what="JetStream",
        tolerate_errors=True,
    )
    yield client
    await client.close()


# --- the test ---------------------------------------------------------------------------------


@dataclass
class System:
    runtime: Runtime
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    account: EbayAccount


@pytest_asyncio.fixture
async def system(
    balancer: Balancer, admin: NatsClient, database_server: DatabaseServer, tmp_path: Path
) -> AsyncIterator[System]:
    ops = load_ops()
    # The topology Job: every stream and bucket three times, before anything runs. Paused, so
    # nothing is scheduled until the test has checked the replicas.
    await ops.apply_topology(admin.jetstream(), 3)
    await PauseSwitch(await admin.jetstream().key_value(BUCKETS.control.bucket)).set(True)
    database_url = database_server.create_database(servers.unique_database_name("cluster"))
    service_env = {
        f"{prefix}NATS__URL": url(service, balancer) for service, prefix in SERVICE_PREFIXES.items()
    }
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        # The runtime itself (migrations aside: topology, connecting sellers) is the operator.
        nats_url=url("admin", balancer),
        database_url=database_url,
        admin_port=find_free_port(),
        sellers=1,
        service_env={
            **service_env,
            "SCHEDULER_TICK_SECONDS": "1",
            "SCHEDULER_CADENCE_SECONDS": "3600",
            # Orders alone: the test is about the cluster, and this keeps its backfill short.
            "SCHEDULER_FAMILIES": '["orders"]',
            "SCHEDULER_SETTLE_LAG_SECONDS": str(SETTLE_LAG.total_seconds()),
            "SCHEDULER_OVERLAP_SECONDS": "3600",
            # Many small windows and pages, so the kill lands in the middle of the backfill.
            "SCHEDULER_MAX_WINDOW_DAYS": "3",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": str(BACKFILL_DAYS),
            "FETCHER_ORDERS_PAGE_SIZE": "10",
            "OTEL_LOG_FORMAT": "text",
        },
        sandbox_env={
            "SANDBOX_CLOCK_FROZEN": "true",
            "SANDBOX_ORDERS_PER_DAY": "10",
            "SANDBOX_HISTORY_DAYS": "120",
        },
    )
    async with running_system(options) as running:
        account = await running.only_account()
        yield System(running.runtime, running.sessions, running.sandbox, account)


async def runs_succeeded(system: System) -> int:
    async with system.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(SyncRun.account_id == system.account.id, SyncRun.status == "succeeded")
        )
    return int(count or 0)


async def caught_up(system: System, started: datetime) -> bool:
    async with system.sessions() as session:
        state = await session.get(SyncState, (system.account.id, "orders"), populate_existing=True)
        open_runs = await session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(
                SyncRun.account_id == system.account.id,
                SyncRun.status.in_(["queued", "running"]),
            )
        )
    cursor = None if state is None else state.cursor
    return cursor is not None and cursor >= started - SETTLE_LAG and open_runs == 0


async def test_a_node_killed_mid_sync_loses_nothing(
    system: System, cluster: list[Node], admin: NatsClient
) -> None:
    js = admin.jetstream(timeout=10)
    ops = load_ops()
    streams: list[str] = ops.stream_names()
    # Every service declared the topology at start; each kept the three replicas it found.
    await eventually(
        lambda: replicated(js, streams, 3), within=90, what="every stream R3", tolerate_errors=True
    )
    # The scheduler plans in the sandbox's (frozen) time.
    started = await sandbox_now(system.sandbox)
    await PauseSwitch(await js.key_value(BUCKETS.control.bucket)).set(False)

    await eventually(
        lambda: _positive(runs_succeeded(system)),
        within=90,
        what="a first window committed",
        tolerate_errors=True,
    )
    # The leader of SYNC_PAGES dies: publishes and fetches fail until a new one is elected,
    # and handlers hand their messages back with a delay (never at once).
    leader = (await js.stream_info(PAGES_STREAM)).cluster
    assert leader is not None
    [victim] = [node for node in cluster if node.name == leader.leader]
    done_before_kill = await runs_succeeded(system)
    # The balancer spreads connections over the nodes: some services lose theirs with the node.
    assert service_connections(victim), "no service was connected to the node that dies"
    assert not await caught_up(system, started), "the backfill ended before the kill"
    assert victim.server.pid is not None
    os.kill(victim.server.pid, signal.SIGKILL)

    await eventually(
        lambda: caught_up(system, started),
        within=150,
        what="backfill caught up",
        tolerate_errors=True,
    )
    assert await runs_succeeded(system) > done_before_kill, "nothing was synced after the kill"

    # Nothing lost, nothing doubled: the mirror equals the source over the whole backfill.
    async with system.sessions() as session:
        state = await session.get(SyncState, (system.account.id, "orders"))
        backfill_start = await session.scalar(
            select(func.min(SyncRun.window_from)).where(SyncRun.account_id == system.account.id)
        )
    assert state is not None and state.cursor is not None and backfill_start is not None
    differences = await verify_pair(
        system.sessions,
        system.sandbox,
        system.account.id,
        system.account.username,
        TRUTHS[Family.ORDERS],
        since=backfill_start,
    )
    assert differences.range_to == state.cursor and differences.compared > 0
    assert differences.count == 0, differences
    async with system.sessions() as session:
        mirrored = await session.scalar(
            select(func.count())
            .select_from(EbayOrder)
            .where(EbayOrder.account_id == system.account.id)
        )
    assert (mirrored or 0) > 100, "the seller should have a real history"

    # The survivors still hold every stream, and the services only ever did what they may.
    survivors = [node for node in cluster if node is not victim]
    for node in cluster:
        assert node.violations() == [], node.violations()
    users: dict[str, set[str | None]] = {}
    for node in survivors:
        for connection in node.monitor("/connz?auth=true&limit=1000")["connections"]:
            users.setdefault(connection.get("name", ""), set()).add(
                connection.get("authorized_user")
            )
    for service in SERVICE_PREFIXES:
        if service in users:
            assert users[service] == {service}, (service, users[service])
    assert {"fetcher", "writer", "scheduler", "token-service"} <= users.keys(), users


async def _positive(count: Awaitable[int]) -> bool:
    return await count > 0


async def _true(result: Awaitable[Any]) -> bool:
    await result
    return True
