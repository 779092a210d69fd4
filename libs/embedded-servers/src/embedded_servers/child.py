"""What both embedded servers share: one child process, its log file, and a stop that signals
first and kills only after a timeout."""

from __future__ import annotations

import abc
import atexit
import logging
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from embedded_servers.processes import _signal_and_wait, find_free_port

logger = logging.getLogger(__name__)


class ChildServer(abc.ABC):
    """A server process this process started and stops; ``start`` is the subclass's."""

    name: ClassVar[str]
    # The signal that shuts the server down cleanly (JetStream flushes on SIGTERM, PostgreSQL
    # makes a fast shutdown on SIGINT); SIGKILL follows only after ``stop_timeout``.
    stop_signal: ClassVar[signal.Signals]

    def __init__(
        self,
        data_dir: Path,
        host: str,
        port: int | None,
        *,
        start_timeout: float,
        stop_timeout: float,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self._port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def port(self) -> int:
        """The TCP port; picked (and then kept for restarts) on first access if not given."""
        if self._port is None:
            self._port = find_free_port(self.host)
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @abc.abstractmethod
    def start(self) -> Self: ...

    def stop(self, timeout: float | None = None) -> None:
        """The clean-shutdown signal, then SIGKILL after ``timeout`` seconds."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                wait = self.stop_timeout if timeout is None else timeout
                code = _signal_and_wait(proc, self.stop_signal, wait, self.name)
                logger.info(
                    "%s on %s:%d stopped (exit code %s)", self.name, self.host, self.port, code
                )
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
