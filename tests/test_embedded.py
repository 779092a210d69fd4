"""Embedded NATS/PostgreSQL servers, the process supervisor and the testkit fixtures."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import nats
import pytest
from embedded_servers import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError

from ebaysync.supervisor import ProcessSpec, Supervisor, wait_for_http, wait_for_port
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

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


# --------------------------------------------------------------------------- supervisor


def _py(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", code]


async def test_supervisor_prefixes_output_and_restarts_with_backoff() -> None:
    out = io.StringIO()
    crasher = ProcessSpec(
        "crasher", _py("import sys; print('boom'); sys.exit(3)"), env={"X": "1"}, cwd=None
    )
    talker = ProcessSpec(
        "talker",
        _py(
            "import os, sys, time\n"
            "print('hello', os.environ['GREETING'])\n"
            "print('to stderr', file=sys.stderr)\n"
            "print('no newline', end='')\n"
            "sys.stdout.flush()\n"
            "time.sleep(60)"
        ),
        env={"GREETING": "world"},
    )
    sup = Supervisor([crasher, talker], backoff_initial=0.1, backoff_max=0.4, output=out)
    async with sup:
        state = sup.children["crasher"]

        async def restarted_thrice() -> bool:
            return state.restarts >= 3

        # Behaviour, not speed: a loaded machine starts Python slowly, so wait for the restarts.
        await eventually(restarted_thrice, within=60, what="the crasher restarted three times")
        # The delays doubled from 0.1 s and stopped at the 0.4 s ceiling.
        assert state.last_exit_code == 3
        assert state.next_delay == pytest.approx(0.4)
        assert sup.children["talker"].restarts == 0
        assert sup.children["talker"].pid is not None
    text = out.getvalue()
    assert "crasher | boom" in text
    assert "crasher | [supervisor] exited unexpectedly (code 3); restarting in 0.1s" in text
    assert "crasher | [supervisor] exited unexpectedly (code 3); restarting in 0.2s" in text
    assert "crasher | [supervisor] exited unexpectedly (code 3); restarting in 0.4s" in text
    assert "talker  | hello world" in text
    assert "talker  | to stderr" in text
    assert "talker  | no newline" in text
    assert sup.children["talker"].pid is None


async def test_supervisor_kills_children_that_ignore_sigterm() -> None:
    out = io.StringIO()
    stubborn = ProcessSpec(
        "stubborn",
        _py(
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: print('ignoring SIGTERM', flush=True))\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(1)"
        ),
    )
    polite = ProcessSpec("polite", ["sleep", "60"])
    sup = Supervisor([stubborn, polite], stop_timeout=0.5, output=out)
    await sup.start()
    await asyncio.sleep(0.5)
    pids = [s.pid for s in sup.children.values()]
    assert all(pids)
    started = time.monotonic()
    await sup.stop()
    assert time.monotonic() - started < 3
    assert "stubborn | ignoring SIGTERM" in out.getvalue()
    assert sup.children["stubborn"].last_exit_code == -signal.SIGKILL
    assert sup.children["polite"].last_exit_code == -signal.SIGTERM
    await sup.wait()  # returns at once after stop()


# --------------------------------------------------------------------------- dying parents

# Starts both servers (NATS from a thread that then ends, as asyncio.to_thread would) and a
# supervised child, prints their pids, and waits to be killed.
_PARENT = """
import asyncio, json, sys, threading
from pathlib import Path
from embedded_servers import EmbeddedNats, EmbeddedPostgres
from ebaysync.supervisor import ProcessSpec, Supervisor

data = Path(sys.argv[1])
started = []
thread = threading.Thread(target=lambda: started.append(EmbeddedNats(data / "nats").start()))
thread.start()
thread.join()
pg = EmbeddedPostgres(data / "pg", settings={"fsync": "off"}).start()

async def main():
    sup = Supervisor([ProcessSpec("sleeper", ["sleep", "600"])])
    await sup.start()
    pids = [started[0].pid, pg.pid, sup.children["sleeper"].pid]
    print(json.dumps(pids), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@pytest.mark.nats
@pytest.mark.postgres
async def test_servers_and_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PARENT, str(tmp_path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 120)
        pids: list[int] = json.loads(line)
        await asyncio.sleep(1)  # the starting thread has ended: the servers still run
        assert all(_alive(pid) for pid in pids), pids
    finally:
        parent.kill()  # as a timed-out test run's os._exit, no cleanup code runs
        await parent.wait()

    async def all_gone() -> bool:
        return not any(_alive(pid) for pid in pids)

    await eventually(all_gone, within=60, what=f"the parent's servers and child {pids} ended")


# Hangs where no signal reaches it (as a test stuck in C code would): only pytest-timeout's
# thread method ends it, with os._exit, so no cleanup code stops its server either.
_HANGING_TEST = """
import signal, threading
from pathlib import Path
from embedded_servers import EmbeddedNats

def test_hangs(tmp_path):
    server = EmbeddedNats(tmp_path).start()
    Path(__file__).with_name("pid").write_text(str(server.pid))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    threading.Event().wait()
"""
ROOT = Path(__file__).resolve().parents[1]


async def test_a_hung_test_ends_at_its_timeout_and_leaves_no_server(tmp_path: Path) -> None:
    (tmp_path / "test_hanging.py").write_text(_HANGING_TEST)
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        *("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-p", "no:cacheprovider"),
        # Its own base temp: pytest resets /tmp/pytest-of-<user> to mode 0700, which would cut
        # this session's PostgreSQL (an unprivileged user) off from its data directory.
        *("--basetemp", str(tmp_path / "inner")),
        *("-o", "timeout=5", str(tmp_path / "test_hanging.py")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(run.communicate(), 120)
    finally:
        if run.returncode is None:  # still hung: the timeout did not end it
            run.kill()
            await run.wait()
    # Our configuration (the thread method) ends the run, with the stacks.
    assert run.returncode != 0
    assert b"Timeout" in out, out.decode()[-2000:]
    pid = int((tmp_path / "pid").read_text())

    async def gone() -> bool:
        return not _alive(pid)

    await eventually(gone, within=30, what=f"the hung test's nats-server {pid} ended")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; nobody reaps it in a container without init


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
