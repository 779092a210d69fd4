"""Embedded NATS/PostgreSQL servers (restarts keep their data, ports, auth, crashes and
unprivileged runs) and the testkit fixtures. The process supervisor and dying parents:
test_embedded_supervisor."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import nats
import pytest
from embedded_servers import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError

from ebaysync.supervisor import wait_for_http, wait_for_port
from testkit.servers import DatabaseServer

logger = logging.getLogger(__name__)


async def _publish(url: str, stream: str, subject: str, payload: bytes) -> None:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{subject}.>"])
        ack = await js.publish(f"{subject}.one", payload)
        assert ack.stream == stream
    finally:
        await nc.close()


async def _fetch_one(url: str, stream: str, subject: str) -> bytes:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        assert info.state.messages == 1
        sub = await js.pull_subscribe(f"{subject}.>", durable="reader", stream=stream)
        msgs = await sub.fetch(1, timeout=5)
        await msgs[0].ack()
        return msgs[0].data
    finally:
        await nc.close()


# --------------------------------------------------------------------------- NATS


@pytest.mark.nats
async def test_nats_jetstream_survives_restart(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats", monitor_port=None)
    started = time.monotonic()
    with server:
        startup = time.monotonic() - started
        assert server.running
        assert server.url == f"nats://127.0.0.1:{server.port}"
        await _publish(server.url, "ORDERS", "orders", b"hello")
    assert not server.running
    assert (tmp_path / "nats" / "jetstream").is_dir()

    with server:  # same data dir, same port
        assert await _fetch_one(server.url, "ORDERS", "orders") == b"hello"
    logger.info("nats-server start-up: %.3fs", startup)


@pytest.mark.nats
async def test_nats_monitor_port_and_helpers(tmp_path: Path) -> None:
    from embedded_servers import find_free_port

    monitor = find_free_port()
    with EmbeddedNats(tmp_path, monitor_port=monitor) as server:
        assert "-m" in server.command()
        assert server.monitor_url == f"http://127.0.0.1:{monitor}"
        await wait_for_port("127.0.0.1", server.port, within=5)
        await wait_for_http(f"{server.monitor_url}/healthz?js-enabled-only=true", within=5)
    with pytest.raises(TimeoutError):
        await wait_for_port("127.0.0.1", server.port, within=0.3)
    with pytest.raises(TimeoutError):
        await wait_for_http(f"http://127.0.0.1:{monitor}/healthz", within=0.3)


def test_nats_port_conflict_is_reported(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "a") as first:
        second = EmbeddedNats(tmp_path / "b", port=first.port, start_timeout=10)
        with pytest.raises(EmbeddedServerError):
            second.start()
        assert not second.running
        assert first.running


# --------------------------------------------------------------------------- PostgreSQL


async def _count_rows(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch("SELECT name FROM items ORDER BY id")
        return [r["name"] for r in rows]
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_postgres_data_survives_restart(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg")
    started = time.monotonic()
    pg.start()
    try:
        first_start = time.monotonic() - started
        assert pg.url == f"postgresql+asyncpg://ebaysync@127.0.0.1:{pg.port}/ebaysync"
        assert pg.admin_url("other") == f"postgresql+asyncpg://ebaysync@127.0.0.1:{pg.port}/other"
        conn = await asyncpg.connect(pg.dsn, timeout=10)
        try:
            assert await conn.fetchval("SELECT current_user") == "ebaysync"
            assert await conn.fetchval("SELECT current_database()") == "ebaysync"
            await conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
            await conn.execute("INSERT INTO items (name) VALUES ('widget')")
        finally:
            await conn.close()
    finally:
        pg.stop()
    assert not pg.running

    started = time.monotonic()
    with pg:
        restart = time.monotonic() - started
        assert await _count_rows(pg.dsn) == ["widget"]
        # create_database is idempotent and returns the URL
        url = pg.create_database("second")
        assert url.endswith("/second")
        assert pg.create_database("second") == url
        assert pg.database_exists("second")
    logger.info("postgres first start (initdb): %.3fs, restart: %.3fs", first_start, restart)


@pytest.mark.postgres
async def test_postgres_password_auth(tmp_path: Path) -> None:
    password = "s3cret p@ss/w'rd"
    with EmbeddedPostgres(tmp_path, password=password) as pg:
        assert "s3cret%20p%40ss%2Fw%27rd@" in pg.url
        conn = await asyncpg.connect(pg.dsn, timeout=10)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                user="ebaysync", password="wrong", host="127.0.0.1", port=pg.port, timeout=10
            )


@pytest.mark.postgres
async def test_postgres_starts_after_crash_with_stale_pidfile(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path)
    pg.start()
    conn = await asyncpg.connect(pg.dsn, timeout=10)
    await conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
    await conn.execute("INSERT INTO items (name) VALUES ('kept')")
    await conn.close()

    # crash: SIGKILL the postmaster, postmaster.pid stays behind
    assert pg.pid is not None
    os.kill(pg.pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    assert (pg.pgdata / "postmaster.pid").exists()
    pg.stop()  # reaps the dead child

    # worst case: the stale PID now belongs to a live process of the server's user
    owner = pg.pgdata.stat().st_uid
    squatter = await asyncio.create_subprocess_exec(
        "sleep", "60", user=owner if os.geteuid() == 0 else None
    )
    try:
        pidfile = pg.pgdata / "postmaster.pid"
        lines = pidfile.read_text().splitlines()
        lines[0] = str(squatter.pid)
        pidfile.write_text("\n".join(lines) + "\n")

        with EmbeddedPostgres(tmp_path) as again:  # fresh object: new port
            assert await _count_rows(again.dsn) == ["kept"]
        assert squatter.returncode is None  # an unrelated process is left alone
    finally:
        squatter.kill()
        await squatter.wait()


@pytest.mark.postgres
def test_postgres_runs_unprivileged(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path) as pg:
        assert pg.pid is not None
        status = Path(f"/proc/{pg.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        uids = {int(x) for x in uid_line.split()[1:]}
        assert 0 not in uids
        if os.geteuid() == 0:
            assert pg.pgdata.stat().st_uid in uids
            groups = next(line for line in status.splitlines() if line.startswith("Groups:"))
            assert "0" not in groups.split()[1:]
        # listens on 127.0.0.1 only and no Unix socket
        assert not list(pg.pgdata.glob(".s.PGSQL.*"))
        assert pg.psql("SHOW listen_addresses").strip() == "127.0.0.1"


# --------------------------------------------------------------------------- testkit plugin


async def test_plugin_fixtures(
    nats_url: str,
    database_server: DatabaseServer,
    database_server_url: str,
    fresh_database_url: str,
) -> None:
    await _publish(nats_url, "PLUGIN", "plugin", b"via fixture")
    assert await _fetch_one(nats_url, "PLUGIN", "plugin") == b"via fixture"

    assert database_server_url == database_server.url
    assert fresh_database_url.startswith("postgresql+asyncpg://")
    name = fresh_database_url.rsplit("/", 1)[1]
    assert name.startswith("t_test_plugin_fixtures_")
    conn = await asyncpg.connect(database_server.dsn_for(name), timeout=10)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        )
        assert tables == 0
    finally:
        await conn.close()

    other = database_server.create_database(prefix="extra")
    assert other != fresh_database_url
    database_server.drop_database(other.rsplit("/", 1)[1])


async def test_fresh_database_is_isolated(fresh_database_url: str) -> None:
    server_dsn = fresh_database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(server_dsn, timeout=10)
    try:
        await conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
        assert await conn.fetchval("SELECT count(*) FROM items") == 0
    finally:
        await conn.close()
