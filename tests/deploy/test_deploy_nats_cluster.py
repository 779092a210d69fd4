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

import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from embedded_servers import EmbeddedNats, find_free_port
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import ClusterInfo
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.control import PauseSwitch
from common.db.accounts import EbayAccount
from common.db.orders import EbayOrder
from common.db.sync import SyncRun, SyncState
from common.families import Family
from common.streams import (
    BUCKETS,
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.truths import TRUTHS
from ebaysync.verify import verify_pair
from testkit import servers
from testkit.progress import sandbox_now
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
HOST = "127.0.0.1"
USERS = ("admin", "scheduler", "token-service", "fetcher", "writer", "admin-api", "sys")
PASSWORDS = {user: secrets.token_hex(12) for user in USERS}
ROUTE_PASSWORD = secrets.token_hex(12)
# The settings prefix through which each service reads its own NATS URL (<PREFIX>NATS__URL).
SERVICE_PREFIXES = {
    "scheduler": "SCHEDULER_",
    "token-service": "TOKEN_SERVICE_",
    "fetcher": "FETCHER_",
    "writer": "WRITER_",
    "admin-api": "ADMIN_API_",
}
SETTLE_LAG = timedelta(minutes=10)
BACKFILL_DAYS = 90


def load_ops() -> ModuleType:
    """deploy/ops.py: the topology step of deploy/k8s/topology-job.yaml."""
    spec = importlib.util.spec_from_file_location("ebaysync_deploy_ops", ROOT / "deploy" / "ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the cluster ----------------------------------------------------------------------------


@dataclass
class Node:
    server: EmbeddedNats
    route_port: int

    @property
    def name(self) -> str:
        """The server name JetStream reports leaders by (EmbeddedNats picks a unique one)."""
        return str(self.monitor("/varz")["server_name"])

    def monitor(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.server.monitor_url}{path}", timeout=5) as response:
            data: dict[str, Any] = json.load(response)
            return data

    def violations(self) -> list[str]:
        log = self.server.log_path.read_text(errors="replace")
        return [line for line in log.splitlines() if "Violation" in line]


def distinct_ports(count: int) -> list[int]:
    """Ports free right now and distinct from each other (all held open while picked)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def start_cluster(base: Path) -> list[Node]:
    ports = distinct_ports(9)
    route_ports, client_ports, monitor_ports = ports[0:3], ports[3:6], ports[6:9]
    routes = json.dumps([f"nats://route:{ROUTE_PASSWORD}@{HOST}:{p}" for p in route_ports])
    env = {
        "NATS_ROUTE_PASSWORD": ROUTE_PASSWORD,
        "NATS_ROUTES": routes,
        **{"NATS_PASSWORD_" + u.upper().replace("-", "_"): pw for u, pw in PASSWORDS.items()},
    }
    nodes = []
    for index, route_port in enumerate(route_ports):
        name = f"nats-{index}"
        server = EmbeddedNats(
            base / name,
            port=client_ports[index],
            monitor_port=monitor_ports[index],
            config_file=NATS_CONF,
            # The file's cluster listens on 0.0.0.0:6222; here each node gets a loopback port.
            extra_args=["--cluster", f"nats://{HOST}:{route_port}"],
            env={**env, "NATS_SERVER_NAME": name},
        )
        nodes.append(Node(server, route_port))
    for node in nodes:
        node.server.start()
    return nodes


class Balancer:
    """One address in front of the nodes, like a Kubernetes Service: each new connection goes
    to the next node that accepts it; a dead node's connections are closed."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for attempt in range(len(self._ports)):
            port = self._ports[(self._next + attempt) % len(self._ports)]
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection(HOST, port)
                self._next = (self._next + attempt + 1) % len(self._ports)
                break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for stream in (writer, up_writer):
                stream.close()
                with contextlib.suppress(Exception):
                    await stream.wait_closed()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()


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


def url(user: str, balancer: Balancer) -> str:
    return f"nats://{user}:{PASSWORDS[user]}@{HOST}:{balancer.port}"


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


def healthy(cluster: ClusterInfo | None, replicas: int) -> bool:
    if cluster is None or not cluster.leader:
        return False
    peers = cluster.replicas or []
    return len(peers) == replicas - 1 and all(p.current and not p.offline for p in peers)


async def replicated(js: JetStreamContext, streams: list[str], replicas: int) -> bool:
    """Every stream and both durable consumers have ``replicas`` current copies and a leader.

    Consumers inherit their stream's replicas, but the server moves them a little later.
    """
    for name in streams:
        info = await js.stream_info(name)
        if info.config.num_replicas != replicas or not healthy(info.cluster, replicas):
            return False
    for stream, durable in ((WINDOWS_STREAM, FETCHER_DURABLE), (PAGES_STREAM, WRITER_DURABLE)):
        if not healthy((await js.consumer_info(stream, durable)).cluster, replicas):
            return False
    return True


def service_connections(node: Node) -> list[str]:
    """The services connected to ``node`` (FastStream names its connection after the service)."""
    connections = node.monitor("/connz?limit=1000")["connections"]
    return [c["name"] for c in connections if c.get("name") in SERVICE_PREFIXES]


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
    runtime = Runtime(options)
    info = await runtime.start()
    engine = create_async_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session:
            account = (await session.scalars(select(EbayAccount))).one()
        async with httpx.AsyncClient(base_url=info.sandbox_url, timeout=30) as sandbox:
            yield System(runtime, sessions, sandbox, account)
    finally:
        await runtime.stop()
        await engine.dispose()


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
