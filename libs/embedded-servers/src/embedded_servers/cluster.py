"""Making a PostgreSQL cluster: initdb and the authentication file."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from embedded_servers.processes import EmbeddedServerError
from embedded_servers.runas import _RunAs

if TYPE_CHECKING:
    from embedded_servers.postgres import EmbeddedPostgres

logger = logging.getLogger(__name__)


def initdb(cluster: EmbeddedPostgres, bin_dir: Path, run_as: _RunAs, env: dict[str, str]) -> None:
    """Create the cluster in a temporary directory, then move it into place: an interrupted
    initdb never leaves a half-made ``pgdata``."""
    if cluster.pgdata.exists():
        if any(cluster.pgdata.iterdir()):
            raise EmbeddedServerError(
                f"{cluster.pgdata} is not empty but has no PG_VERSION; refusing to initdb over it"
            )
        cluster.pgdata.rmdir()
    tmp = cluster.data_dir / "pgdata.initdb-tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(mode=0o700)
    pwfile = cluster.data_dir / ".initdb-pwfile"
    argv = [
        str(bin_dir / "initdb"),
        "-D",
        str(tmp),
        "-U",
        cluster.user,
        "--encoding=UTF8",
        "--no-locale",
        "--no-instructions",
    ]
    if cluster.settings.get("fsync", "on").lower() in ("off", "false", "0", "no"):
        argv += ["--no-sync"]  # durability is off anyway (test clusters)
    if cluster.password is None:
        argv += ["--auth=trust"]
    else:
        argv += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        pwfile.write_text(cluster.password + "\n")
        pwfile.chmod(0o600)
    if run_as.uid is not None and run_as.gid is not None:
        os.chown(tmp, run_as.uid, run_as.gid)
        if cluster.password is not None:
            os.chown(pwfile, run_as.uid, run_as.gid)
    logger.info("initdb %s (as %s)", cluster.pgdata, run_as.user or "current user")
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            cwd=cluster.data_dir,
            timeout=cluster.start_timeout,
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
    tmp.rename(cluster.pgdata)


def write_hba(cluster: EmbeddedPostgres) -> None:
    """``pg_hba.conf`` as this process wants it: trust without a password, else scram."""
    method = "trust" if cluster.password is None else "scram-sha-256"
    hba = cluster.pgdata / "pg_hba.conf"
    content = (
        "# written by embedded_servers on every start\n"
        f"local all all {method}\n"
        f"host  all all 127.0.0.1/32 {method}\n"
        f"host  all all ::1/128 {method}\n"
    )
    if not hba.is_file() or hba.read_text() != content:
        st = cluster.pgdata.stat()
        hba.write_text(content)
        os.chown(hba, st.st_uid, st.st_gid)
        hba.chmod(0o600)


def pidfile_ready(pidfile: Path, pid: int) -> bool:
    """True when postmaster.pid is ours and its status line says ``ready``."""
    try:
        lines = pidfile.read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"
