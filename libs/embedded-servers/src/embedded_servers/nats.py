"""An embedded NATS JetStream server."""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from embedded_servers.binaries import nats_server_binary
from embedded_servers.child import ChildServer
from embedded_servers.processes import (
    EmbeddedServerError,
    _iter_pids,
    _open_log,
    _pid_cmdline,
    _spawn,
    _tail,
    _terminate_pids,
)

logger = logging.getLogger(__name__)


class EmbeddedNats(ChildServer):
    """A ``nats-server -js`` child process storing JetStream data under ``data_dir``.

    Layout: ``<data_dir>/jetstream`` (passed as ``-sd``) and
    ``<data_dir>/nats-server.log`` (the server's stdout and stderr, appended).

    ``config_file`` adds ``-c FILE`` (accounts, permissions, a cluster block); the flags for
    host, port, store and monitoring still win over the file. ``env`` adds variables to the
    server's environment, which its config file can reference as ``$NAME``.
    """

    name = "nats-server"
    stop_signal = signal.SIGTERM

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
        super().__init__(
            data_dir, host, port, start_timeout=start_timeout, stop_timeout=stop_timeout
        )
        self.monitor_port = monitor_port
        self._binary = binary
        self.extra_args = list(extra_args)
        self.config_file = None if config_file is None else Path(config_file).absolute()
        self.env = dict(env or {})

    # -- properties -------------------------------------------------------

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "jetstream"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str | None:
        if self.monitor_port is None:
            return None
        return f"http://{self.host}:{self.monitor_port}"

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

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedNats({self.url}, data_dir={self.data_dir}, {state})"
