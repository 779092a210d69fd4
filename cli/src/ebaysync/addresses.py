"""Where a running system is: the addresses ``ebaysync up`` wrote to ``<data-dir>/runtime.json``,
or the ones given on the command line, for the commands that talk to it (verify, status,
repair, budget)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote


def runtime_info(data_dir: Path) -> dict[str, Any]:
    """The addresses ``ebaysync up`` wrote to ``<data-dir>/runtime.json`` (empty without it)."""
    path = data_dir / "runtime.json"
    if not path.exists():
        return {}
    info = json.loads(path.read_text())
    return info if isinstance(info, dict) else {}


class AddressError(ValueError):
    """The database (or sandbox) to use is not known."""


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """``--database-url``/``DATABASE_URL``, else the embedded runtime's database."""
    if database_url:
        return database_url
    url = runtime_info(data_dir).get("database_url")
    if not isinstance(url, str):
        raise AddressError(
            f"no database: pass --database-url (or DATABASE_URL), or --data-dir of a system "
            f"started with `ebaysync up` ({data_dir / 'runtime.json'} does not exist)"
        )
    if ":***@" in url:
        # runtime.json never holds a password: the embedded database's is in secrets.json (as
        # the services' role); an external database's must be given again.
        password = _embedded_database_password(data_dir)
        if password is None:
            raise AddressError("the database in runtime.json needs a password: pass --database-url")
        url = url.replace(":***@", f":{quote(password, safe='')}@", 1)
    return url


def _embedded_database_password(data_dir: Path) -> str | None:
    if runtime_info(data_dir).get("embedded_database") is not True:
        return None
    from ebaysync.runtime import LocalSecrets

    password = LocalSecrets.stored(data_dir / "secrets.json").get("postgres_password")
    return password if isinstance(password, str) else None


def resolve_sandbox_url(sandbox_url: str | None, data_dir: Path) -> str | None:
    """``--sandbox-url``, else the embedded runtime's sandbox, else None (real eBay)."""
    if sandbox_url:
        return sandbox_url
    url = runtime_info(data_dir).get("sandbox_url")
    return url if isinstance(url, str) else None
