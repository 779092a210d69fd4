"""Running PostgreSQL as an unprivileged system user when this process is root: the user,
the directories it must traverse and own, and quoting for the SQL that sets up roles."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from embedded_servers.processes import EmbeddedServerError

logger = logging.getLogger(__name__)


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
