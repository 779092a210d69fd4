"""The embedded nats-server and PostgreSQL configured exactly as `ebaysync up` configures them,
for the tests of who they let in (tests/test_embedded_security*). A test module takes the
fixture by assignment (``embedded = embedded_up.embedded``; see :mod:`testkit.admin_fixtures`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from embedded_servers import EmbeddedNats, EmbeddedPostgres
from nats.aio.client import Client as NatsClient

from common.settings import NatsSettings
from ebaysync.runtime import (
    LocalSecrets,
    embedded_nats,
    embedded_postgres,
)

SERVICES = ("scheduler", "token-service", "fetcher", "writer", "admin-api")


@dataclass
class Embedded:
    data_dir: Path
    local: LocalSecrets
    nats: EmbeddedNats
    postgres: EmbeddedPostgres


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    data_dir = tmp_path_factory.mktemp("up")
    local = LocalSecrets.load_or_create(data_dir / "secrets.json")
    server = embedded_nats(data_dir, local).start()
    try:
        database = embedded_postgres(data_dir, local).start()
        try:
            yield Embedded(data_dir, local, server, database)
        finally:
            database.stop(timeout=15)
    finally:
        server.stop(timeout=15)


async def nats_connect(url: str, errors: list[str] | None = None) -> NatsClient:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc).lower())

    client = NatsClient()
    try:
        await client.connect(
            url,
            # Each user may take replies on its own inbox only, as every service does.
            inbox_prefix=NatsSettings(url=url).inbox,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=10,
            error_cb=on_error,
        )
    except BaseException:
        await client.close()  # a refused connect leaves its socket open otherwise
        raise
    return client
