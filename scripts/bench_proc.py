"""CPU time and memory of process trees, from ``/proc`` (the scale bench's measurements)."""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ebaysync.runtime import Runtime

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SERVICES = ("scheduler", "token-service", "fetcher", "writer", "admin-api")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    own_ticks: int  # utime + stime
    children_ticks: int  # cutime + cstime: exited, waited-for children


def read_stat(pid: int) -> ProcStat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        own_ticks=int(fields[11]) + int(fields[12]),
        children_ticks=int(fields[13]) + int(fields[14]),
    )


def all_stats() -> dict[int, ProcStat]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := read_stat(int(entry))) is not None:
            stats[stat.pid] = stat
    return stats


def tree(root: int, stats: Mapping[int, ProcStat]) -> list[int]:
    """``root`` and its live descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in stats.values():
        children[stat.ppid].append(stat.pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found.append(pid)
            todo.extend(children.get(pid, ()))
    return found


def group_ticks(roots: Sequence[int], stats: Mapping[int, ProcStat]) -> int:
    """CPU ticks used so far by the process trees of ``roots`` (exited children included)."""
    total = 0
    for root in roots:
        pids = tree(root, stats)
        total += sum(stats[p].own_ticks for p in pids)
        if root in stats:
            total += stats[root].children_ticks
    return total


def memory_mib(roots: Sequence[int]) -> dict[str, float]:
    """RSS and PSS (shared pages divided among their users) summed over the trees."""
    stats = all_stats()
    rss = pss = 0
    for root in roots:
        for pid in tree(root, stats):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
    return {"rss_mib": round(rss / 2**20, 1), "pss_mib": round(pss / 2**20, 1)}


def process_groups(runtime: Runtime) -> dict[str, list[int]]:
    """The measured processes: every supervised child (replicas folded into their service),
    nats-server, PostgreSQL, and this process (the supervisor)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for name, child in runtime.supervisor.children.items():
        if child.pid is not None:
            service = next((s for s in SERVICES if name == s or name.startswith(f"{s}-")), name)
            groups[service].append(child.pid)
    if runtime.nats is not None and runtime.nats.pid is not None:
        groups["nats-server"].append(runtime.nats.pid)
    if runtime.postgres is not None and runtime.postgres.pid is not None:
        groups["postgresql"].append(postmaster_pid(runtime) or runtime.postgres.pid)
    return dict(groups)


def postmaster_pid(runtime: Runtime) -> int | None:
    """The postmaster's pid (first line of postmaster.pid); backends are its children."""
    assert runtime.postgres is not None
    pidfile = runtime.postgres.pgdata / "postmaster.pid"
    with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
        return int(pidfile.read_text().splitlines()[0])
    return None


def own_ticks() -> int:
    """This process's CPU (supervisor log pumps, the bench's own queries), threads included."""
    times = os.times()
    return round((times.user + times.system) * CLOCK_TICKS)
