"""`ebaysync up` lets in only whom it generated credentials for (issue 16, findings 1 and 3):
PostgreSQL with scram-sha-256 and a service role that is no superuser, secrets.json, data dirs
of older versions, and the whole system, every service and the CLI working as those users."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import pytest
from embedded_servers import find_free_port
from nats.errors import Error as NatsError

from common.db.migrate import upgrade_async
from ebaysync.addresses import AddressError, resolve_database_url
from ebaysync.credentials import PG_OWNER, PG_SUPERUSER, nats_users
from ebaysync.runtime import (
    DataDirError,
    LocalSecrets,
    Runtime,
    RuntimeOptions,
    refuse_unauthenticated_data_dir,
)
from testkit import embedded_up
from testkit.embedded_up import SERVICES, Embedded, nats_connect
from testkit.waiting import eventually

embedded = embedded_up.embedded  # the servers as `ebaysync up` runs them (testkit.embedded_up)


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_refuses_connections_without_the_password(embedded: Embedded) -> None:
    port = embedded.postgres.port
    for user, password in (
        (PG_OWNER, None),
        (PG_OWNER, ""),
        (PG_OWNER, "wrong"),
        (PG_SUPERUSER, None),
        (PG_SUPERUSER, embedded.local.postgres_password),  # the service's is not the superuser's
    ):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                user=user,
                password=password,
                host="127.0.0.1",
                port=port,
                database="ebaysync",
                timeout=10,
            )


@pytest.mark.postgres
async def test_the_service_role_owns_its_database_and_nothing_more(embedded: Embedded) -> None:
    # The migrations run as the service role, as under `ebaysync up`.
    await upgrade_async(embedded.postgres.url)
    conn = await asyncpg.connect(embedded.postgres.dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT current_user") == PG_OWNER
        role = await conn.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(role) == (False, False, False, False, False)
        assert (
            await conn.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            )
            == PG_OWNER
        )
        owners = await conn.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        )
        assert [r["tableowner"] for r in owners] == [PG_OWNER]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("COPY (SELECT 1) TO PROGRAM 'touch /tmp/ebaysync-pwned'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TEMP TABLE t (x int); COPY t FROM PROGRAM 'id'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT pg_read_file('/etc/passwd')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE DATABASE other")
    finally:
        await conn.close()
    # Not even into the maintenance database.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(embedded.postgres.dsn.rsplit("/", 1)[0] + "/postgres", timeout=10)


# --- secrets.json ----------------------------------------------------------------------------


def test_secrets_are_generated_once_private_and_complete(embedded: Embedded) -> None:
    path = embedded.data_dir / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored["nats_passwords"]) == set(nats_users())
    assert {"admin", *SERVICES} <= set(stored["nats_passwords"])
    passwords = [*stored["nats_passwords"].values(), stored["postgres_password"]]
    assert len(set([*passwords, stored["postgres_superuser_password"]])) == len(passwords) + 1
    # Reused on a later start, and tightened if someone loosened the file.
    path.chmod(0o644)
    assert LocalSecrets.load_or_create(path) == embedded.local
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == stored
    # The rendered NATS config holds the passwords: private too, and fully substituted.
    config = embedded.data_dir / "nats" / "nats.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "$NATS_PASSWORD" not in config.read_text()
    assert f'"{embedded.local.nats_passwords["fetcher"]}"' in config.read_text()


def test_an_older_secrets_file_keeps_its_values_and_gains_the_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"token_key": "kept", "nats_passwords": {"fetcher": "kept-too"}}))
    local = LocalSecrets.load_or_create(path)
    assert local.token_key == "kept"
    assert local.nats_passwords["fetcher"] == "kept-too"
    assert set(local.nats_passwords) == set(nats_users())
    assert local.postgres_password and local.postgres_superuser_password


@pytest.mark.parametrize("server", ["postgres", "nats"])
async def test_a_data_dir_of_an_older_version_is_refused_with_a_way_out(
    tmp_path: Path, server: str
) -> None:
    data_dir = tmp_path / "data"
    if server == "postgres":  # what the older version wrote on every start
        (data_dir / "postgres" / "pgdata").mkdir(parents=True)
        (data_dir / "postgres" / "pgdata" / "pg_hba.conf").write_text(
            "local all all trust\nhost  all all 127.0.0.1/32 trust\n"
        )
    else:  # a JetStream store, no config
        (data_dir / "nats" / "jetstream").mkdir(parents=True)
    # An operator's CLI may have completed secrets.json meanwhile: no matter.
    LocalSecrets.load_or_create(data_dir / "secrets.json")
    before = (data_dir / "secrets.json").read_text()
    runtime = Runtime(RuntimeOptions(data_dir=data_dir))
    with pytest.raises(DataDirError, match=r"older ebaysync.*remove"):
        await runtime.start()
    assert runtime.nats is None and runtime.postgres is None
    assert (data_dir / "secrets.json").read_text() == before


def test_a_data_dir_of_this_version_is_not_refused(embedded: Embedded) -> None:
    refuse_unauthenticated_data_dir(embedded.data_dir)


def test_the_cli_takes_the_embedded_database_password_from_secrets_json(tmp_path: Path) -> None:
    local = LocalSecrets.load_or_create(tmp_path / "secrets.json")
    redacted = "postgresql+asyncpg://ebaysync:***@127.0.0.1:5/ebaysync"
    runtime_file = tmp_path / "runtime.json"
    runtime_file.write_text(json.dumps({"database_url": redacted, "embedded_database": True}))
    assert resolve_database_url(None, tmp_path) == redacted.replace("***", local.postgres_password)
    # An external database's password is not ours to fill in.
    runtime_file.write_text(json.dumps({"database_url": redacted, "embedded_database": False}))
    with pytest.raises(AddressError, match="needs a password"):
        resolve_database_url(None, tmp_path)


# --- the whole system ------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.nats
@pytest.mark.postgres
async def test_every_service_and_the_cli_work_as_their_own_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    runtime = Runtime(RuntimeOptions(data_dir=data_dir, admin_port=find_free_port(), sellers=1))
    await runtime.start()
    try:
        assert runtime.nats is not None and runtime.info is not None
        with pytest.raises(NatsError, match="Authorization Violation"):
            await nats_connect(runtime.nats.url)

        async def synced() -> bool:
            # The CLI, as an operator runs it, finds the database and its password through
            # the data dir alone.
            cli = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from ebaysync.cli import main; main()",
                *("status", "--data-dir", str(data_dir), "--json"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(cli.communicate(), 120)
            assert cli.returncode == 0, err.decode()
            rows = json.loads(out)
            return any(r["family"] == "orders" and r["cursor"] is not None for r in rows)

        # A window planned, fetched with a token and written: every service did its part.
        await eventually(synced, within=180, what="the orders of the sandbox seller synced")
        log = runtime.nats.log_path.read_text()
        # nats-server logs "Publish Violation" and "Subscription Violation": none.
        violations = [line for line in log.splitlines() if "Violation" in line]
        assert violations == []
        assert log.count("authentication error") == 1  # ours above, the only one
    finally:
        await runtime.stop()
    info = json.loads((data_dir / "runtime.json").read_text())
    assert ":***@" in info["nats_url"] and ":***@" in info["database_url"]
    # No password in what the services printed, the servers logged or runtime.json holds.
    local = LocalSecrets.load_or_create(data_dir / "secrets.json")
    passwords = [
        *local.nats_passwords.values(),
        local.postgres_password,
        local.postgres_superuser_password,
    ]
    written = [
        capsys.readouterr().out,
        runtime.nats.log_path.read_text(),
        (data_dir / "postgres" / "postgres.log").read_text(),
        (data_dir / "runtime.json").read_text(),
    ]
    assert "FastStream app starting" in written[0]  # the services' output was captured
    leaked = [p for p in passwords if any(p in text for text in written)]
    assert leaked == []
