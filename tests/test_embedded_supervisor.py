"""The process supervisor, and servers and children dying with their parent or a hung test."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from ebaysync.supervisor import ProcessSpec, Supervisor
from testkit.waiting import eventually

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
