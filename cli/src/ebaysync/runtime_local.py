"""What ``ebaysync up`` (``ebaysync.runtime``) is given and keeps: its options, the addresses it
writes to ``<data-dir>/runtime.json``, the secrets it generates once into
``<data-dir>/secrets.json`` (mode 0600), and its embedded NATS and PostgreSQL configured with them.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from embedded_servers import EmbeddedNats, EmbeddedPostgres

from ebaysync.credentials import (
    PG_OWNER,
    PG_SUPERUSER,
    nats_users,
    new_password,
    render_nats_config,
    write_private,
)

DEMO_ORG = "demo"
TOKEN_KEY_ID = "local-1"
ADMIN_EMAIL = "admin@ebaysync.local"
SANDBOX_CLIENT_ID = "ebaysync-SBX-client"
SANDBOX_RU_NAME = "ebaysync-RuName"
# The sandbox keyset's DevID: its Trading notifications are signed with it, the ingress checks it.
SANDBOX_DEV_ID = "ebaysync-sandbox-devid"
# The alert e-mail eBay's updateConfig needs before any destination (no mail is ever sent).
PUSH_ALERT_EMAIL = "alerts@ebaysync.local"
# How often the subscriptions job runs locally: sellers connect after the services start, so
# their subscriptions follow within this, not the production default's 10 minutes.
PUSH_SUBSCRIPTIONS_SECONDS = 30


@dataclass
class RuntimeOptions:
    data_dir: Path
    nats_url: str | None = None
    database_url: str | None = None
    host: str = "127.0.0.1"
    admin_port: int = 8000
    sellers: int = 3
    seed: int = 1
    # Embedded defaults favour a quick demo; production keeps the services' own defaults.
    service_env: dict[str, str] = field(
        default_factory=lambda: {
            "SCHEDULER_TICK_SECONDS": "2",
            "SCHEDULER_CADENCE_SECONDS": "30",
            "SCHEDULER_SETTLE_LAG_SECONDS": "30",
            "SCHEDULER_OVERLAP_SECONDS": "120",
            "SCHEDULER_MAX_WINDOW_DAYS": "15",
            "OTEL_LOG_FORMAT": "text",
        }
    )
    # SANDBOX_* settings of the simulated eBay (tests freeze its clock, for instance).
    sandbox_env: dict[str, str] = field(default_factory=dict)
    # Processes per stateless worker service (fetcher, writer): replicas share one durable
    # consumer, as they would in production.
    replicas: dict[str, int] = field(default_factory=dict)


@dataclass
class RuntimeInfo:
    # As the operator (NATS user "admin") and as the database's owner, passwords included.
    nats_url: str
    database_url: str
    admin_url: str
    sandbox_url: str
    started_at: str
    pid: int
    metrics_urls: dict[str, str]
    # The database is the embedded one: its password is in secrets.json ("postgres_password").
    embedded_database: bool = False

    def redacted(self) -> dict[str, object]:
        """The addresses as written to runtime.json and printed: no passwords."""
        info = asdict(self)
        info["nats_url"] = _without_password(self.nats_url)
        info["database_url"] = _without_password(self.database_url)
        return info


@dataclass
class LocalSecrets:
    """Secrets the embedded runtime generates once and keeps in the data directory (0600)."""

    token_key: str
    sandbox_client_secret: str
    # The sandbox generates its sellers' history around this instant, so a restarted sandbox
    # serves the same orders the mirror already holds.
    sandbox_origin: str
    admin_jwt_secret: str
    admin_password: str
    # One password per NATS user of deploy/nats/accounts.conf.
    nats_passwords: dict[str, str]
    # The service role's (ebaysync.credentials.PG_OWNER), and the bootstrap superuser's, which
    # only initdb and the role's creation use.
    postgres_password: str
    postgres_superuser_password: str
    # createDestination's verification token (eBay's rule: 32 to 80 of [A-Za-z0-9_-]).
    push_verification_token: str

    @classmethod
    def load_or_create(cls, path: Path) -> LocalSecrets:
        stored = cls.stored(path)
        fresh: dict[str, object] = {
            "token_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            "sandbox_client_secret": secrets.token_urlsafe(24),
            "sandbox_origin": datetime.now(UTC).isoformat(),
            "admin_jwt_secret": secrets.token_urlsafe(48),
            "admin_password": secrets.token_urlsafe(12),
            "postgres_password": new_password(),
            "postgres_superuser_password": new_password(),
            "push_verification_token": secrets.token_urlsafe(36),
        }
        # Keep what exists (keys, passwords); add what a newer version needs.
        values = {**fresh, **{k: v for k, v in stored.items() if k in fresh}}
        old_nats = stored.get("nats_passwords")
        known = old_nats if isinstance(old_nats, dict) else {}
        values["nats_passwords"] = {
            user: known.get(user) or new_password() for user in nats_users()
        }
        if values != stored:
            write_private(path, json.dumps(values))
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)  # an older version's, or loosened by hand
        return cls(**values)  # type: ignore[arg-type]

    @staticmethod
    def stored(path: Path) -> dict[str, object]:
        """What ``path`` holds (empty if it does not exist)."""
        loaded = json.loads(path.read_text()) if path.exists() else {}
        return loaded if isinstance(loaded, dict) else {}


def push_env(admin_url: str, local: LocalSecrets) -> dict[str, str]:
    """Push on out of the box against the sandbox (docs/adr/0018): eBay (the sandbox) calls
    the admin API's ingress at ``admin_url``; the subscriptions job subscribes every connected
    seller; Trading notifications are checked against the sandbox keyset's DevID. Options'
    ``service_env`` overrides any of these."""
    return {
        "ADMIN_API_PUSH__ENABLED": "true",
        "ADMIN_API_PUSH__PUBLIC_URL": admin_url,
        "ADMIN_API_PUSH__VERIFICATION_TOKEN": local.push_verification_token,
        "ADMIN_API_PUSH__ALERT_EMAIL": PUSH_ALERT_EMAIL,
        "ADMIN_API_PUSH__TRADING_DEV_ID": SANDBOX_DEV_ID,
        "ADMIN_API_PUSH__SUBSCRIPTIONS_SECONDS": str(PUSH_SUBSCRIPTIONS_SECONDS),
    }


def push_enabled(env: dict[str, str]) -> bool:
    """Whether the admin API's environment turns push on (the connect then asks for the push
    topics' scopes too)."""
    return env.get("ADMIN_API_PUSH__ENABLED", "").strip().lower() in ("true", "1", "yes", "on")


class DataDirError(RuntimeError):
    """The data directory was made by a version whose servers took anyone."""


def refuse_unauthenticated_data_dir(data_dir: Path) -> None:
    """Refuse servers that an older ``ebaysync up`` created without credentials.

    Their PostgreSQL superuser is the services' role and trusts every local connection, and
    their JetStream data lives outside the account that the users of accounts.conf see; neither
    can be fixed in place (the bootstrap superuser keeps its rights), so the operator starts
    afresh. Told by what only such a version leaves: a ``trust`` pg_hba.conf, a JetStream store
    without the NATS config written before every start.
    """
    hba = data_dir / "postgres" / "pgdata" / "pg_hba.conf"
    trusting = hba.is_file() and re.search(r"\strust\s*$", hba.read_text(), re.MULTILINE)
    nats_dir = data_dir / "nats"
    unconfigured = (nats_dir / "jetstream").exists() and not (nats_dir / "nats.conf").exists()
    if trusting or unconfigured:
        raise DataDirError(
            f"{data_dir} was created by an older ebaysync whose NATS and PostgreSQL took any "
            "local connection without a password. This version generates credentials and "
            f"cannot add them to those servers: remove {data_dir} (or move it away, or choose "
            "another --data-dir) and start again; the sandbox's data is generated anew."
        )


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def embedded_nats(data_dir: Path, local: LocalSecrets) -> EmbeddedNats:
    """The embedded NATS of ``ebaysync up``: the deployment's users, with ``local``'s passwords.

    The config is written on every start, so it follows accounts.conf as the code changes.
    """
    config = data_dir / "nats" / "nats.conf"
    write_private(config, render_nats_config(local.nats_passwords))
    return EmbeddedNats(config.parent, config_file=config)


def embedded_postgres(data_dir: Path, local: LocalSecrets) -> EmbeddedPostgres:
    """The embedded PostgreSQL of ``ebaysync up``: scram-sha-256; the services' role is no
    superuser."""
    return EmbeddedPostgres(
        data_dir / "postgres",
        user=PG_SUPERUSER,
        password=local.postgres_superuser_password,
        owner=PG_OWNER,
        owner_password=local.postgres_password,
    )
