"""Where a process's CPU goes: py-spy samples, reduced to the top functions (self, inclusive).

py-spy (``pip install py-spy``) is optional: without it on PATH nothing is sampled.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    return found


def profile_processes(
    groups: Mapping[str, Sequence[int]], names: Sequence[str], seconds: float, workdir: Path
) -> dict[str, Any]:
    """Sample ``names``' processes with py-spy for ``seconds`` (all at once, non-blocking) and
    return each one's top functions: self (the frame on CPU) and inclusive."""
    binary = py_spy()
    if binary is None or seconds <= 0:
        return {}
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for name in names:
        pids = groups.get(name)
        if not pids:
            continue
        out = workdir / f"{name}.collapsed"
        argv = [binary, "record", "--pid", str(pids[0]), "--duration", str(int(seconds))]
        # --gil: only samples holding the GIL, i.e. running Python code (a thread blocked in a
        # syscall or waiting is not CPU spent by the interpreter).
        argv += ["--rate", "67", "--gil", "--nonblocking", "--format", "raw", "--output", str(out)]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running[name] = (process, out)
    profiles = {}
    for name, (process, out) in running.items():
        try:
            process.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if out.exists():
            profiles[name] = top_functions(out.read_text())
    return profiles


# Top-level packages of this repository: their frames make the "inclusive" table.
PROJECT = frozenset(
    {"common", "fetcher", "writer", "scheduler", "token_service", "admin_api", "ebay_sandbox"}
)


def frame_name(frame: str) -> str:
    """``func (pkg/module.py:12)`` -> ``func (pkg/module.py)``: py-spy already shortens paths
    to the importable module's."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        path = "/".join(parts[parts.index("site-packages") + 1 :])
    return f"{name} ({path})"


def package_of(frame: str) -> str:
    """The top-level package (or stdlib module) a frame's code is in."""
    path = frame.rpartition(" (")[2].rstrip(")")
    first = path.split("/")[0]
    return first.removesuffix(".py") if first else path


def top_functions(collapsed: str, limit: int = 12) -> dict[str, Any]:
    """From py-spy's raw (collapsed-stack) output, as shares of the samples: per function on
    CPU (self), per package on CPU (self, summed: which library the time is in), and per
    function of this repository anywhere on the stack (inclusive)."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        packages[package_of(frames[-1])] += count
        for frame in set(frames):
            if package_of(frame) in PROJECT:
                inclusive[frame] += count
    if not total:
        return {"samples": 0, "self": {}, "packages": {}, "inclusive": {}}

    def shares(counter: Counter[str]) -> dict[str, float]:
        return {f: round(100 * c / total, 1) for f, c in counter.most_common(limit)}

    # The service's main loop (on nearly every stack) says nothing: leave it out.
    telling = Counter({f: c for f, c in inclusive.items() if c < 0.9 * total})
    return {
        "samples": total,
        "self": shares(own),
        "packages": shares(packages),
        "inclusive": shares(telling),
    }
