"""A 3-node NATS cluster on loopback with the production config (deploy/nats/nats.conf) and
users, and a small TCP balancer in front of it (what the Kubernetes Service "nats" is to the
services), for tests/deploy/test_deploy_nats_cluster."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedded_servers import EmbeddedNats
from nats.js import JetStreamContext
from nats.js.api import ClusterInfo

from common.streams import (
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from testkit.deploy_config import ROOT

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


def url(user: str, balancer: Balancer) -> str:
    return f"nats://{user}:{PASSWORDS[user]}@{HOST}:{balancer.port}"


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
