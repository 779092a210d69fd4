"""Real NATS JetStream and PostgreSQL servers for tests.

Order of choice, per server:

1. ``TEST_NATS_URL`` / ``TEST_DATABASE_URL`` when set (an already running server;
   the database URL names any database the user may connect to, typically the
   maintenance database ``postgres``; the user must be allowed to CREATE DATABASE);
2. testcontainers (``postgres:16``, ``nats:2.11`` with JetStream) when a Docker
   engine answers ``ping``;
3. the embedded servers of :mod:`embedded_servers` in a temporary directory.

Nothing heavy is imported at module level: servers start only when asked for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import importlib
import logging
import os
import re
import uuid
import warnings
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = [
    "DatabaseServer",
    "ServerKind",
    "database_server",
    "docker_available",
    "nats_server",
    "unique_database_name",
]

logger = logging.getLogger(__name__)

ServerKind = Literal["env", "testcontainers", "embedded"]

NATS_IMAGE = "nats:2.11"
POSTGRES_IMAGE = "postgres:16"

# durability is pointless for throw-away test clusters; this makes them faster
EMBEDDED_PG_TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

_T = TypeVar("_T")
_PG_SCHEMES = {"postgres", "postgresql"}


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion on a private loop in a worker thread.

    Works whether or not the calling thread already runs an event loop.
    """
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="testkit") as pool:
        return pool.submit(asyncio.run, coro).result()


def unique_database_name(prefix: str = "test") -> str:
    """``<prefix>_<12 hex digits>``, lower case, at most 63 bytes."""
    clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:40] or "test"
    return f"{clean}_{uuid.uuid4().hex[:12]}"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DatabaseServer:
    """A PostgreSQL server on which tests create their own databases.

    ``url`` is the SQLAlchemy URL (``postgresql+asyncpg://...``) of the
    maintenance database used to run CREATE/DROP DATABASE.
    """

    url: str
    kind: ServerKind

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme.split("+", 1)[0]
        if scheme not in _PG_SCHEMES:
            raise ValueError(f"not a PostgreSQL URL: {self.url!r}")

    @property
    def maintenance_database(self) -> str:
        return unquote(urlsplit(self.url).path.lstrip("/")) or "postgres"

    def url_for(self, database: str, *, driver: str | None = "asyncpg") -> str:
        """URL of ``database`` on this server.

        ``driver="asyncpg"`` (default) gives ``postgresql+asyncpg://`` for
        SQLAlchemy; ``driver=None`` a plain ``postgresql://`` DSN for
        ``asyncpg.connect``/libpq.
        """
        parts = urlsplit(self.url)
        scheme = "postgresql" if driver is None else f"postgresql+{driver}"
        path = "/" + quote(database, safe="")
        return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))

    def dsn_for(self, database: str) -> str:
        return self.url_for(database, driver=None)

    async def _execute(self, sql: str) -> None:
        # imported lazily (cheap plugin import) and untyped: import_module gives Any
        asyncpg = importlib.import_module("asyncpg")
        conn = await asyncpg.connect(self.dsn_for(self.maintenance_database), timeout=30)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def acreate_database(self, name: str | None = None, *, prefix: str = "test") -> str:
        """Create an empty database (unique name unless given); returns its asyncpg URL."""
        name = name or unique_database_name(prefix)
        await self._execute(f"CREATE DATABASE {_quote_ident(name)}")
        return self.url_for(name)

    async def adrop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting its sessions (PostgreSQL 13+)."""
        await self._execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def create_database(self, name: str | None = None, *, prefix: str = "test") -> str:
        """Blocking variant of :meth:`acreate_database` (usable inside a running loop)."""
        return _run_sync(self.acreate_database(name, prefix=prefix))

    def drop_database(self, name: str) -> None:
        _run_sync(self.adrop_database(name))


@functools.cache
def docker_available() -> bool:
    """True if a Docker engine answers ``ping`` (any failure means no)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith("unix://"):
        socket_path = Path(host.removeprefix("unix://") or "/var/run/docker.sock")
        if not socket_path.exists():
            logger.debug("docker not available: no %s", socket_path)
            return False
    # docker-py leaks its socket when the connection fails; the ResourceWarning
    # would surface later as an error under filterwarnings=error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            docker = importlib.import_module("docker")
            client = docker.from_env(timeout=5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception as exc:  # docker missing, no engine, permission, timeout, ...
            logger.debug("docker not available: %s", exc)
            return False
        finally:
            gc.collect()


@contextlib.contextmanager
def _quiet_deprecations() -> Iterator[None]:
    # testcontainers' NATS module warns at import time and in start(); pytest runs
    # with filterwarnings=error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@contextlib.contextmanager
def nats_server(tmp_dir: Path) -> Iterator[str]:
    """Yield a ``nats://`` URL of a JetStream-enabled server."""
    env_url = os.environ.get("TEST_NATS_URL")
    if env_url:
        logger.info("NATS for tests: TEST_NATS_URL=%s", env_url)
        yield env_url
        return
    if docker_available():
        with _quiet_deprecations():
            from testcontainers.community.nats import NatsContainer

            container = NatsContainer(NATS_IMAGE, jetstream=True)
            container.start()
        try:
            url = str(container.nats_uri())
            logger.info("NATS for tests: testcontainers %s at %s", NATS_IMAGE, url)
            yield url
        finally:
            container.stop()
        return
    from embedded_servers import EmbeddedNats

    with EmbeddedNats(tmp_dir) as server:
        logger.info("NATS for tests: embedded nats-server at %s", server.url)
        yield server.url


@contextlib.contextmanager
def database_server(tmp_dir: Path) -> Iterator[DatabaseServer]:
    """Yield a :class:`DatabaseServer` (maintenance URL + create/drop helpers)."""
    env_url = os.environ.get("TEST_DATABASE_URL")
    if env_url:
        logger.info("PostgreSQL for tests: TEST_DATABASE_URL")
        yield DatabaseServer(env_url, "env")
        return
    if docker_available():
        with _quiet_deprecations():
            from testcontainers.community.postgres import PostgresContainer

            container = PostgresContainer(POSTGRES_IMAGE, driver="asyncpg")
            container.start()
        try:
            server = DatabaseServer(str(container.get_connection_url()), "testcontainers")
            logger.info("PostgreSQL for tests: testcontainers %s", POSTGRES_IMAGE)
            yield server
        finally:
            container.stop()
        return
    from embedded_servers import EmbeddedPostgres

    with EmbeddedPostgres(tmp_dir, settings=EMBEDDED_PG_TEST_SETTINGS) as pg:
        logger.info("PostgreSQL for tests: embedded postgres on port %d", pg.port)
        yield DatabaseServer(pg.admin_url("postgres"), "embedded")
