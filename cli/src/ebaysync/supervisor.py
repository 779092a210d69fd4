"""Run named child processes, forward their output, restart them when they crash.

``Supervisor`` is asyncio based::

    async with Supervisor([ProcessSpec("writer", ["python", "-m", "writer"])]) as sup:
        await wait_for_http("http://127.0.0.1:8000/healthz")
        await sup.wait()          # until sup.stop() or a signal handler stops it

Each line a child writes to stdout or stderr is written to our stdout as
``name | line``. A child that exits while the supervisor is running is restarted
after a delay that starts at 1 s and doubles up to 30 s; the delay resets once
a child has stayed up for ``backoff_reset`` seconds. ``stop()`` sends SIGTERM to
every child, waits up to ``stop_timeout`` seconds, then SIGKILLs the process
group of whatever is left. On Linux a child also gets SIGTERM when the supervising
process dies without stopping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TextIO
from urllib.parse import urlsplit

from embedded_servers import die_with_parent

__all__ = [
    "ChildState",
    "ProcessSpec",
    "Supervisor",
    "wait_for_http",
    "wait_for_port",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    """One child process.

    ``env`` is added on top of this process's environment (``inherit_env=True``,
    the default) or is the child's whole environment (``inherit_env=False``).
    """

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    inherit_env: bool = True

    def child_env(self) -> dict[str, str]:
        if not self.inherit_env:
            return dict(self.env)
        # passing our environment through to the child, not reading configuration
        return {**os.environ, **self.env}  # noqa: TID251


@dataclass
class ChildState:
    """Runtime information about one child (read-only for callers)."""

    spec: ProcessSpec
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    last_exit_code: int | None = None
    next_delay: float = 0.0
    task: asyncio.Task[None] | None = None
    spawned: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pid(self) -> int | None:
        proc = self.process
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)


class Supervisor:
    def __init__(
        self,
        specs: Iterable[ProcessSpec] = (),
        *,
        stop_timeout: float = 10.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        backoff_reset: float = 60.0,
        output: TextIO | None = None,
    ) -> None:
        self.stop_timeout = stop_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.backoff_reset = backoff_reset
        self._output = output
        self._children: dict[str, ChildState] = {}
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = False
        self._width = 0
        for spec in specs:
            self.add(spec)

    # -- public API ---------------------------------------------------------

    @property
    def children(self) -> dict[str, ChildState]:
        return dict(self._children)

    def add(self, spec: ProcessSpec) -> None:
        """Register a child; started at once if the supervisor is already running."""
        if spec.name in self._children:
            raise ValueError(f"duplicate process name: {spec.name!r}")
        if not spec.argv:
            raise ValueError(f"empty argv for {spec.name!r}")
        state = ChildState(spec, next_delay=self.backoff_initial)
        self._children[spec.name] = state
        self._width = max(self._width, len(spec.name))
        if self._started and not self._stopping.is_set():
            state.task = asyncio.create_task(self._run_child(state), name=f"supervise-{spec.name}")

    async def start(self) -> None:
        """Start every registered child (returns once they are spawned)."""
        if self._started:
            return
        self._started = True
        spawned = []
        for state in self._children.values():
            state.task = asyncio.create_task(
                self._run_child(state), name=f"supervise-{state.spec.name}"
            )
            spawned.append(state)
        # return once each child has been spawned (or failed to spawn)
        await asyncio.gather(*(s.spawned.wait() for s in spawned))

    async def wait(self) -> None:
        """Block until ``stop()`` has completed."""
        await self._stopped.wait()

    async def stop(self, grace: float | None = None) -> None:
        """SIGTERM every child, wait up to ``grace`` s (default ``stop_timeout``), then
        SIGKILL their process groups."""
        if self._stopping.is_set():
            await self._stopped.wait()
            return
        self._stopping.set()
        timeout = self.stop_timeout if grace is None else grace
        try:
            running = [s for s in self._children.values() if s.pid is not None]
            for state in running:
                self._signal(state, signal.SIGTERM)
            waiters = [asyncio.ensure_future(s.process.wait()) for s in running if s.process]
            if waiters:
                _, pending = await asyncio.wait(waiters, timeout=timeout)
                for waiter in pending:
                    waiter.cancel()
            for state in running:
                if state.pid is not None:
                    logger.warning(
                        "%s did not exit %.0fs after SIGTERM; sending SIGKILL",
                        state.spec.name,
                        timeout,
                    )
                    self._signal(state, signal.SIGKILL, group=True)
            tasks = [s.task for s in self._children.values() if s.task is not None]
            if tasks:
                _, pending_tasks = await asyncio.wait(tasks, timeout=10.0)
                for task in pending_tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._stopped.set()

    def install_signal_handlers(self, *signals: signal.Signals) -> None:
        """Make SIGINT/SIGTERM (default) call ``stop()`` (Unix only)."""
        loop = asyncio.get_running_loop()
        for sig in signals or (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.stop()))

    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- internals ----------------------------------------------------------

    def _write(self, name: str, line: str) -> None:
        out = self._output or sys.stdout
        out.write(f"{name:<{self._width}} | {line}\n")
        out.flush()

    def _signal(
        self,
        state: ChildState,
        sig: signal.Signals,
        *,
        group: bool = False,
        quiet: bool = False,
    ) -> None:
        proc = state.process
        if proc is None:
            return
        try:
            if group:
                # children run in their own session, so pgid == pid
                os.killpg(proc.pid, sig)
            elif proc.returncode is None:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError) as exc:
            if not quiet:
                logger.debug("signal %s to %s failed: %s", sig.name, state.spec.name, exc)

    async def _pump(self, name: str, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        buffer = b""
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                self._write(name, raw.rstrip(b"\r").decode("utf-8", "replace"))
        if buffer:
            self._write(name, buffer.rstrip(b"\r").decode("utf-8", "replace"))

    async def _run_child(self, state: ChildState) -> None:
        spec = state.spec
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *spec.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=spec.child_env(),
                    cwd=spec.cwd,
                    start_new_session=True,
                    # A supervisor killed outright (kill -9, a test run's os._exit) takes
                    # its children along instead of leaving them running.
                    preexec_fn=die_with_parent(signal.SIGTERM),
                )
            except OSError as exc:
                state.starts += 1
                state.spawned.set()
                self._write(spec.name, f"[supervisor] failed to start: {exc}")
                code: int | None = None
            else:
                state.process = proc
                state.starts += 1
                state.spawned.set()
                logger.info("started %s (pid %d)", spec.name, proc.pid)
                if self._stopping.is_set():  # stop() began while we were spawning
                    self._signal(state, signal.SIGTERM)
                pumps = asyncio.gather(
                    self._pump(spec.name, proc.stdout),
                    self._pump(spec.name, proc.stderr),
                )
                try:
                    code = await proc.wait()
                    state.last_exit_code = code
                    # the main process is gone: whatever is left in its process group
                    # (grandchildren) would keep our pipes open and its ports bound
                    self._signal(state, signal.SIGKILL, group=True, quiet=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(pumps, 5.0)
                finally:
                    pumps.cancel()
                    # Mark the outcome as seen, or asyncio logs "exception never retrieved".
                    pumps.add_done_callback(lambda f: f.cancelled() or f.exception())
            if self._stopping.is_set():
                logger.info("%s exited with code %s", spec.name, code)
                return
            if time.monotonic() - started >= self.backoff_reset:
                state.next_delay = self.backoff_initial
            delay = state.next_delay
            state.next_delay = min(delay * 2, self.backoff_max)
            self._write(
                spec.name,
                f"[supervisor] exited unexpectedly (code {code}); restarting in {delay:g}s",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)


async def wait_for_port(
    host: str,
    port: int,
    within: float = 30.0,
    interval: float = 0.1,
) -> None:
    """Wait until a TCP connection to ``host:port`` succeeds; TimeoutError after ``within`` s."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
        except (OSError, TimeoutError) as exc:
            last = exc
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{host}:{port} not accepting connections after {within}s: {last}")
        await asyncio.sleep(interval)


async def _http_status(url: str, io_timeout: float) -> int:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    ssl_ctx = ssl.create_default_context() if https else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname or "", port, ssl=ssl_ctx), io_timeout
    )
    try:
        host_header = parts.netloc.rsplit("@", 1)[-1]
        request = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("latin-1"))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), io_timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    fields = status_line.split()
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        raise ConnectionError(f"bad HTTP status line from {url}: {status_line!r}")
    return int(fields[1])


async def wait_for_http(
    url: str,
    within: float = 30.0,
    interval: float = 0.2,
    status: int = 200,
) -> None:
    """Wait until ``GET url`` answers with ``status`` (200); TimeoutError after ``within`` s."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    deadline = time.monotonic() + within
    last: object = None
    while True:
        try:
            got = await _http_status(url, io_timeout=min(5.0, max(0.5, within)))
        except (OSError, TimeoutError, ConnectionError) as exc:
            last = exc
        else:
            if got == status:
                return
            last = f"HTTP {got}"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer {status} within {within}s (last: {last})")
        await asyncio.sleep(interval)
