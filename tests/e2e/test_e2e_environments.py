"""One deployment, two eBay environments: two simulators stand for production and sandbox, each
knowing only its own keyset and sellers. An account connected through each keyset is synced
from its own hosts (api and apiz, the Finances signing key included) and refreshed with its own
keyset, by the real admin API, token service, fetcher sources and writer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.signing_keys import EbaySigningKey
from common.environments import EbayEnvironments, ProductionKeyset, SandboxKeyset
from common.families import Family
from common.messages import PageBatch, SyncWindow, Trigger
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.streams import BUCKETS
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from fetcher.checkpoints import CheckpointStore
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.sources import SourceContext, build_sources
from fetcher.tokens import TokenClient
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.sandbox import serve_sandbox
from token_service.app import create_app as create_token_service
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CALLBACK = "http://admin/api/oauth/callback"


@dataclass(frozen=True)
class Ebay:
    """One simulator standing for one eBay environment, with its own keyset."""

    environment: str
    url: str
    client_id: str
    secret: str
    ru_name: str


@dataclass
class Deployment:
    admin: httpx.AsyncClient
    http: httpx.AsyncClient
    org: Org
    ebays: dict[str, Ebay]
    fetcher: WindowFetcher

    async def connect(self, environment: str) -> tuple[int, str]:
        """Connect the environment's first seller; returns the account id and its username."""
        ebay = self.ebays[environment]
        start = await self.admin.post(
            "/api/accounts/connect",
            headers=self.org.operator,
            json={"house_name": f"{environment} shop", "environment": environment},
        )
        assert start.status_code == 200, start.text
        authorize_url = start.json()["authorize_url"]
        assert authorize_url.startswith(f"{ebay.url}/oauth2/authorize?client_id={ebay.client_id}")
        seller = (await self.http.get(f"{ebay.url}/sandbox/sellers")).json()[0]["username"]
        consent = await self.http.get(f"{authorize_url}&seller={seller}")
        assert consent.status_code == 302, consent.text
        callback = await self.admin.get(consent.headers["location"].removeprefix("http://admin"))
        assert callback.status_code == 303, callback.text
        return int(callback.headers["location"].split("/accounts/")[1].split("?")[0]), seller

    async def now(self, environment: str) -> datetime:
        response = await self.http.get(f"{self.ebays[environment].url}/sandbox/clock")
        return datetime.fromisoformat(response.json()["now"])

    async def sync(self, account_id: int, family: Family, start: datetime, end: datetime) -> None:
        await self.fetcher.fetch(
            SyncWindow(
                run_id=uuid.uuid4(),
                account_id=account_id,
                family=family,
                window_from=start,
                window_to=end,
                trigger=Trigger.MANUAL,
                issued_at=end,
            )
        )

    async def truth(
        self, environment: str, username: str, family: Family, **dates: datetime
    ) -> dict[str, Any]:
        truth = TRUTHS[family]
        response = await self.http.get(
            f"{self.ebays[environment].url}/sandbox/sellers/{username}/{truth.path}",
            params={k: v.isoformat() for k, v in dates.items()},
        )
        response.raise_for_status()
        return {truth.key(r): r for r in truth.records(response.content)}


def config(ebay: Ebay, seed: int) -> SandboxConfig:
    return SandboxConfig(
        sellers=1,
        profile="tiny",
        orders_per_day=5,
        clock_frozen=True,
        seed=seed,
        client_id=ebay.client_id,
        client_secret=SecretStr(ebay.secret),
        ru_name=ebay.ru_name,
        accept_url=CALLBACK,
    )


@pytest.fixture
async def deployment(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Deployment]:
    monkeypatch.setenv("METRICS_PORT", "0")
    production = Ebay("production", "", "env-PRD-client", "prd-secret", "prd-RuName")
    sandbox = Ebay("sandbox", "", "env-SBX-client", "sbx-secret", "sbx-RuName")
    async with (
        serve_sandbox(config(production, seed=11)) as production_url,
        serve_sandbox(config(sandbox, seed=22)) as sandbox_url,
    ):
        production = Ebay(**{**production.__dict__, "url": production_url})
        sandbox = Ebay(**{**sandbox.__dict__, "url": sandbox_url})
        # The existing single keyset (EBAY_*) is production's; sandbox has a keyset of its own.
        ebay = EbayApiSettings(
            api_base_url=production.url,
            apiz_base_url=production.url,
            auth_base_url=production.url,
            client_id=production.client_id,
            client_secret=SecretStr(production.secret),
            ru_name=production.ru_name,
        )
        environments = EbayEnvironments(
            production=ProductionKeyset(),
            sandbox=SandboxKeyset(
                client_id=sandbox.client_id,
                client_secret=SecretStr(sandbox.secret),
                ru_name=sandbox.ru_name,
                api_base_url=sandbox.url,
                apiz_base_url=sandbox.url,
                auth_base_url=sandbox.url,
            ),
        )
        token_app: FastStream = create_token_service(
            TokenServiceSettings(
                nats=NatsSettings(url=nats_url),
                database=PostgresSettings(url=SecretStr(migrated_database_url)),
                ebay=ebay,
                environments=environments,
                keys={"k1": SecretStr(generate_key())},
                active_key_id="k1",
            )
        )
        await token_app.start()
        try:
            settings = admin_settings(
                nats_url,
                migrated_database_url,
                ebay=ebay,
                environments=environments,
                ebay_environment="production",
            )
            async with (
                serve_admin(settings) as (_, admin),
                httpx.AsyncClient(timeout=30) as http,
            ):
                tokens = TokenClient(broker, timeout=10)
                fetcher_settings = FetcherSettings(ebay=ebay, environments=environments)
                writer = PageWriter(sessions, lambda: datetime.now(UTC))

                async def write(page: PageBatch) -> None:
                    await writer.write(page, None)

                fetcher = WindowFetcher(
                    tokens,
                    build_sources(SourceContext(http, fetcher_settings, tokens)),
                    CheckpointStore(
                        await broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
                    ),
                    write,
                    max_page_bytes=fetcher_settings.max_page_bytes,
                    max_passes=fetcher_settings.max_passes,
                )
                org = await create_signed_in_org(admin, sessions)
                yield Deployment(
                    admin, http, org, {"production": production, "sandbox": sandbox}, fetcher
                )
        finally:
            await token_app.stop()


async def mirrored(
    sessions: async_sessionmaker[AsyncSession], family: Family, account_id: int
) -> dict[str, Any]:
    truth = TRUTHS[family]
    table: Any = truth.table
    async with sessions() as session:
        rows = await session.scalars(select(table).where(table.account_id == account_id))
        return {getattr(row, truth.key_column): row.payload for row in rows}


async def test_each_account_is_synced_and_refreshed_in_its_own_environment(
    deployment: Deployment, sessions: async_sessionmaker[AsyncSession]
) -> None:
    accounts = {env: await deployment.connect(env) for env in ("production", "sandbox")}
    async with sessions() as session:
        for environment, (account_id, _) in accounts.items():
            account = await session.get(EbayAccount, account_id)
            assert account is not None and account.environment == environment

    for environment, (account_id, username) in accounts.items():
        now = await deployment.now(environment)
        start = now - timedelta(days=20)
        await deployment.sync(account_id, Family.ORDERS, start, now)
        expected = await deployment.truth(
            environment, username, Family.ORDERS, date_from=start, date_to=now
        )
        assert len(expected) > 10
        assert await mirrored(sessions, Family.ORDERS, account_id) == expected
        # Finances: the apiz host, signed with a key pair of this environment's application.
        await deployment.sync(account_id, Family.TRANSACTIONS, start, now)
        transactions = await mirrored(sessions, Family.TRANSACTIONS, account_id)
        known = await deployment.truth(environment, username, Family.TRANSACTIONS)
        assert transactions and transactions.items() <= known.items()

    async with sessions() as session:
        hosts = set(
            await session.scalars(
                select(EbaySigningKey.apiz_base_url).where(
                    EbaySigningKey.apiz_base_url.in_([e.url for e in deployment.ebays.values()])
                )
            )
        )
    assert hosts == {e.url for e in deployment.ebays.values()}

    # Each simulator knows only its own client: a refresh with the other keyset is refused.
    for account_id, _ in accounts.values():
        refreshed = await deployment.admin.post(
            f"/api/accounts/{account_id}/token/refresh", headers=deployment.org.operator
        )
        assert refreshed.status_code == 200 and refreshed.json()["refreshed"], refreshed.text
        log = await deployment.admin.get(
            f"/api/accounts/{account_id}/token/refresh-log", headers=deployment.org.viewer
        )
        latest = log.json()[0]
        assert (latest["reason"], latest["outcome"]) == ("forced", "ok")


async def test_an_environment_without_a_keyset_cannot_be_connected(
    nats_url: str, migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = admin_settings(nats_url, migrated_database_url, ebay_environment="production")
    async with serve_admin(settings) as (_, admin):
        org = await create_signed_in_org(admin, sessions)
        refused = await admin.post(
            "/api/accounts/connect",
            headers=org.operator,
            json={"house_name": "Nowhere", "environment": "sandbox"},
        )
        assert refused.status_code == 422 and "no keyset for eBay sandbox" in refused.text
