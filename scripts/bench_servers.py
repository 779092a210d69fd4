"""The servers a benchmark runs on: the given ones, or the embedded runtime's, migrated and with
the JetStream topology declared as the deploy steps leave them."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import nats
from embedded_servers import EmbeddedNats, EmbeddedPostgres

from common.db.migrate import upgrade_async
from common.streams import ensure_topology


@contextlib.asynccontextmanager
async def bench_servers(
    nats_url: str | None, database_url: str | None
) -> AsyncIterator[tuple[str, str]]:
    """The given servers, or the embedded runtime's (as ``make up`` runs them), in a temporary
    directory. Unlike the test kit's throw-away servers, this PostgreSQL keeps its default
    durability (fsync, synchronous commit): the cost of a commit is part of what is measured."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ebaysync-bench-")))
        if nats_url is None:
            nats_url = stack.enter_context(EmbeddedNats(tmp / "nats")).url
        if database_url is None:
            database_url = stack.enter_context(EmbeddedPostgres(tmp / "postgres")).url
        yield nats_url, database_url


async def prepare_servers(nats_url: str, database_url: str) -> None:
    """The schema migrated and the JetStream topology declared, as the deploy steps do."""
    await upgrade_async(database_url)
    connection = await nats.connect(nats_url)
    try:
        await ensure_topology(connection.jetstream())
    finally:
        await connection.close()
