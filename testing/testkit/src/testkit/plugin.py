"""pytest plugin (``-p testkit.plugin``): real NATS and PostgreSQL servers.

Fixtures:

* ``nats_url`` (session): ``nats://`` URL of a JetStream-enabled server.
* ``database_server`` (session): :class:`testkit.servers.DatabaseServer`, able to
  create and drop databases.
* ``database_server_url`` (session): SQLAlchemy URL of the maintenance database.
* ``fresh_database_url`` (function): a new, empty, uniquely named database;
  its ``postgresql+asyncpg://`` URL. Dropped (WITH FORCE) after the test.

Servers come from ``TEST_NATS_URL``/``TEST_DATABASE_URL``, else testcontainers if
Docker answers, else embedded servers in the session's tmp dir (see
:mod:`testkit.servers`). Nothing starts until a fixture is requested.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from testkit import servers
from testkit.fixtures import (  # noqa: F401  (registered as fixtures of this plugin)
    broker,
    engine,
    js,
    migrated_database_url,
    nats_client,
    sessions,
    topology,
)
from testkit.servers import DatabaseServer

logger = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with servers.nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServer]:
    with servers.database_server(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session")
def database_server_url(database_server: DatabaseServer) -> str:
    return database_server.url


@pytest.fixture
def fresh_database_url(
    database_server: DatabaseServer, request: pytest.FixtureRequest
) -> Iterator[str]:
    name = servers.unique_database_name(f"t_{request.node.name}")
    url = database_server.create_database(name)
    yield url
    try:
        database_server.drop_database(name)
    except Exception as exc:  # cleanup must not turn a passing test into an error
        logger.warning("could not drop test database %s: %s", name, exc)
