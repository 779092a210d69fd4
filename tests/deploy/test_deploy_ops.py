"""deploy/ops.py, the deploy steps of compose.yaml and the Kubernetes Jobs, on real servers."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.streams import ensure_topology

ROOT = Path(__file__).resolve().parents[2]


def load_ops() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ebaysync_deploy_ops", ROOT / "deploy" / "ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def snapshot(js: JetStreamContext) -> dict[str, Any]:
    """Every stream's config and its consumers' configs, as the server reports them."""
    state: dict[str, Any] = {}
    for info in await js.streams_info():
        name = info.config.name
        consumers = {c.name: c.config.as_dict() for c in await js.consumers_info(str(name))}
        state[str(name)] = {"config": info.config.as_dict(), "consumers": consumers}
    return state


async def delete_streams(js: JetStreamContext, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(name)


@pytest.mark.nats
async def test_ops_declares_exactly_the_topology_the_services_declare(nats_url: str) -> None:
    ops = load_ops()
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    try:
        await delete_streams(js, [str(info.config.name) for info in await js.streams_info()])
        await ensure_topology(js)
        declared_by_services = await snapshot(js)
        assert sorted(declared_by_services) == sorted(ops.stream_names())

        await delete_streams(js, list(declared_by_services))
        await ops.apply_topology(js, 1)
        declared_by_ops = await snapshot(js)
        assert declared_by_ops == declared_by_services

        # Either may run after the other: applying again changes nothing.
        await ensure_topology(js)
        await ops.apply_topology(js, 1)
        assert await snapshot(js) == declared_by_services
    finally:
        await connection.close()


@pytest.mark.nats
def test_the_topology_command_applies_it_from_nats_url(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = load_ops()

    async def clear() -> None:
        connection = await nats.connect(nats_url)
        try:
            await delete_streams(connection.jetstream(), ops.stream_names())
        finally:
            await connection.close()

    asyncio.run(clear())
    monkeypatch.setenv("NATS_URL", nats_url)
    ops.main(["topology", "--replicas", "1"])

    async def replicas() -> dict[str, int | None]:
        connection = await nats.connect(nats_url)
        try:
            js = connection.jetstream()
            return {n: (await js.stream_info(n)).config.num_replicas for n in ops.stream_names()}
        finally:
            await connection.close()

    assert set(asyncio.run(replicas()).values()) == {1}
    with pytest.raises(SystemExit):
        ops.main(["topology", "--replicas", "2"])  # an even count cannot hold a quorum


@pytest.mark.postgres
def test_the_migrate_command_brings_a_database_to_the_newest_revision(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    load_ops().main(["migrate"])

    async def tables() -> set[str]:
        engine = create_async_engine(fresh_database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("select tablename from pg_tables where schemaname = 'public'")
                )
                return {row[0] for row in rows}
        finally:
            await engine.dispose()

    assert {"alembic_version", "ebay_accounts", "sync_runs", "ebay_orders"} <= asyncio.run(tables())
