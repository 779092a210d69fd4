"""Database and NATS fixtures built on the servers of :mod:`testkit.servers`.

One migrated database per test session: tests stay independent because every test creates its
own org and accounts, and all mirrored data is keyed by account.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError, ServerError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from common.db.migrate import upgrade
from common.streams import (
    ADVISORIES_STREAM,
    BUCKETS,
    DLQ_STREAM,
    PAGES_STREAM,
    WINDOWS_STREAM,
    ensure_topology,
)
from testkit import servers
from testkit.servers import DatabaseServer
from testkit.waiting import stop_within


@pytest.fixture(scope="session")
def migrated_database_url(database_server: DatabaseServer) -> str:
    """A database with every migration applied, shared by the session."""
    name = servers.unique_database_name("ebaysync_test")
    url = database_server.create_database(name)
    upgrade(url)
    return url


@pytest_asyncio.fixture(scope="session")
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated_database_url, pool_size=10)
    yield engine
    await stop_within(engine.dispose(), within=30, what="the test engine")


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest_asyncio.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url, name=f"test-{uuid.uuid4().hex[:6]}")
    yield client
    await stop_within(client.drain(), within=30, what="the test NATS client")


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


BUCKET_NAMES = tuple(bucket.bucket for bucket in BUCKETS.all())


async def reset_topology(js: JetStreamContext) -> None:
    """Delete every stream and bucket of ebaysync, then declare them afresh."""
    streams = (WINDOWS_STREAM, PAGES_STREAM, DLQ_STREAM, ADVISORIES_STREAM)
    for stream in (*streams, *(f"KV_{b}" for b in BUCKET_NAMES)):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
    # The server may still be removing a deleted stream's files when the stream is created
    # again ("error creating store for stream", 10049): try again shortly.
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(ServerError),
        wait=wait_fixed(0.2),
        stop=stop_after_attempt(10),
        reraise=True,
    ):
        with attempt:
            await ensure_topology(js)


@pytest_asyncio.fixture
async def topology(js: JetStreamContext) -> JetStreamContext:
    """A JetStream with ebaysync's streams, consumers and buckets, all empty."""
    await reset_topology(js)
    return js


@pytest_asyncio.fixture
async def broker(nats_url: str, topology: JetStreamContext) -> AsyncIterator[NatsBroker]:
    """A connected FastStream broker (no subscribers) on a fresh topology."""
    broker = NatsBroker(nats_url)
    await broker.connect()
    yield broker
    await stop_within(broker.stop(), within=30, what="the test broker")
