"""Who may connect to the embedded NATS and PostgreSQL of ``ebaysync up``, and as whom.

NATS: the users and subject permissions are the deployment's, ``deploy/nats/accounts.conf``;
that file stays their only home. ``ebaysync up`` renders it into ``<data-dir>/nats/nats.conf``
(mode 0600) with each ``$NATS_PASSWORD_<USER>`` replaced by a generated password, and each
service connects as its own user; the runtime and the operator connect as ``admin``. A
server with users refuses anonymous connections.

PostgreSQL: a bootstrap superuser (``postgres``) exists for initdb and for creating the
service role, and nothing else uses it; the services, the migrations and the CLI connect as
``ebaysync``, an ordinary role that owns the ``ebaysync`` database only. Both authenticate
with ``scram-sha-256``.

Every password lives in ``<data-dir>/secrets.json`` (see ``ebaysync.runtime.LocalSecrets``).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

__all__ = [
    "ACCOUNTS_CONF",
    "NATS_ADMIN_USER",
    "PG_OWNER",
    "PG_SUPERUSER",
    "nats_user_url",
    "nats_users",
    "new_password",
    "render_nats_config",
    "write_private",
]

ACCOUNTS_CONF = Path(__file__).resolve().parents[3] / "deploy" / "nats" / "accounts.conf"
# Operators and deploy jobs in accounts.conf; the runtime (topology, connecting the sandbox
# sellers) and the operator's CLI use it.
NATS_ADMIN_USER = "admin"
PG_SUPERUSER = "postgres"
PG_OWNER = "ebaysync"

# `user: fetcher` followed by `password: $NATS_PASSWORD_FETCHER` (on one line or the next).
_USER_ENTRY = re.compile(r"\buser:\s*([A-Za-z0-9_-]+)\s*,?\s*password:\s*\$(NATS_PASSWORD_\w+)")
_PASSWORD_VARIABLE = re.compile(r"\$(NATS_PASSWORD_\w+)")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: `ebaysync up` takes its NATS users and permissions from the "
            "deployment's accounts.conf and runs from a checkout of the repository"
        ) from None


def nats_users(path: Path = ACCOUNTS_CONF) -> dict[str, str]:
    """Every user of ``accounts.conf`` and the variable its password comes from."""
    text = _read(path)
    users = {user: variable for user, variable in _USER_ENTRY.findall(text)}
    unmatched = set(_PASSWORD_VARIABLE.findall(text)) - set(users.values())
    if not users or unmatched:
        raise ValueError(f"{path}: cannot tell the users of {sorted(unmatched) or 'any password'}")
    return users


def new_password() -> str:
    # URL-safe characters: no quoting needed in a NATS URL or a quoted config string.
    return secrets.token_urlsafe(24)


def render_nats_config(passwords: dict[str, str], path: Path = ACCOUNTS_CONF) -> str:
    """``accounts.conf`` with every password variable replaced by its user's password."""
    variables = {variable: user for user, variable in nats_users(path).items()}

    def password(match: re.Match[str]) -> str:
        value = passwords[variables[match.group(1)]]
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("NATS passwords must be URL-safe tokens")
        return f'"{value}"'

    header = (
        f"# Written by `ebaysync up` on every start from {path},\n"
        "# with the passwords of <data-dir>/secrets.json. Edit that file, not this one.\n\n"
    )
    return header + _PASSWORD_VARIABLE.sub(password, _read(path))


def nats_user_url(url: str, user: str, password: str) -> str:
    """``url`` (``nats://host:port``) with ``user`` and ``password`` in it."""
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc.rsplit('@')[-1]}"
    return parts._replace(netloc=netloc).geturl()


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only: created 0600, never readable by others even
    for a moment, and tightened back to 0600 if it existed looser."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)
