"""Child processes of the embedded servers: ports, logs, spawning, signalling, and dying with
the parent."""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000


class EmbeddedServerError(RuntimeError):
    """A server binary is missing, did not start in time or died while starting."""


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
