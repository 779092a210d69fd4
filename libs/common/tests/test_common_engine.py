"""The engine without a ping per checkout (the writer's): a connection that died fails its first
statement once, and the pool replaces it; the next transaction goes through."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from common.db.engine import build_engine
from common.settings import PostgresSettings

pytestmark = pytest.mark.postgres


async def test_without_pre_ping_a_dead_connection_fails_once_then_the_pool_replaces_it(
    fresh_database_url: str,
) -> None:
    settings = PostgresSettings(url=SecretStr(fresh_database_url))
    engine = build_engine(settings, pre_ping=False)
    admin = create_async_engine(fresh_database_url)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # As a database restart would: the pooled connection's server side goes away.
        async with admin.connect() as connection:
            killed = await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
            )
            assert killed.scalar_one() is True
        with pytest.raises(DBAPIError) as raised:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_with_pre_ping_a_dead_connection_is_replaced_unseen(fresh_database_url: str) -> None:
    engine = build_engine(PostgresSettings(url=SecretStr(fresh_database_url)))
    admin = create_async_engine(fresh_database_url)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
        await admin.dispose()
