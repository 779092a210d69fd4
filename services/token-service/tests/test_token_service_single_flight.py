"""Two token-service replicas on one PostgreSQL against the sandbox over HTTP: one refresh per
token at eBay, whoever asks, whoever sweeps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.db.accounts import EbayAccount
from common.db.tokens import EbayToken, TokenRefreshLog
from common.ebay.scopes import SCOPE_STRING
from common.messages import ConnectAccount, GetAccessToken, TokenErrorCode, token_fingerprint
from common.settings import EbayApiSettings
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from token_service.crypto import KeyRing, generate_key
from token_service.oauth import TOKEN_PATH, OAuthClient
from token_service.service import TokenService

pytestmark = pytest.mark.postgres

CLIENT_ID, CLIENT_SECRET, RU_NAME = "sf-SBX-client", "sf-secret", "sf-RuName"
TOKEN_ENDPOINT = f"POST {TOKEN_PATH}"
# The sandbox's refresh tokens live 47,304,000 s (18 months).
CONSENT = timedelta(seconds=47_304_000)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Replicas:
    a: TokenService
    b: TokenService
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    sandbox_url: str
    clock: Clock

    async def connect(self) -> int:
        sellers = (await self.http.get(f"{self.sandbox_url}/sandbox/sellers")).json()
        async with self.sessions.begin() as session:
            account_id = (await create_account(session, username=sellers[0]["username"])).id
        async with httpx.AsyncClient(base_url=self.sandbox_url) as consent:
            code = await approve_consent(
                consent,
                username=sellers[0]["username"],
                client_id=CLIENT_ID,
                ru_name=RU_NAME,
                scopes=SCOPE_STRING,
            )
        reply = await self.a.connect(
            ConnectAccount(account_id=account_id, authorization_code=SecretStr(code))
        )
        assert reply.connected
        return account_id

    async def token_endpoint_calls(self) -> int:
        stats = (await self.http.get(f"{self.sandbox_url}/sandbox/stats")).json()
        return int(stats["endpoints"].get(TOKEN_ENDPOINT, 0))

    async def refresh_log(self, account_id: int) -> list[tuple[str, str]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(TokenRefreshLog)
                .where(TokenRefreshLog.account_id == account_id)
                .order_by(TokenRefreshLog.id)
            )
            return [(r.reason, r.outcome) for r in rows]


async def widen_the_race(request: httpx.Request) -> None:
    # A refresh at real eBay takes a few hundred milliseconds; the loopback sandbox answers in
    # one. Slowing the token endpoint makes two replicas overlap every time, so a missing
    # cross-replica lock shows as a second refresh instead of passing by luck.
    if request.url.path == TOKEN_PATH:
        await asyncio.sleep(0.3)


@pytest.fixture
async def replicas(migrated_database_url: str) -> AsyncIterator[Replicas]:
    config = SandboxConfig(
        sellers=1, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET), ru_name=RU_NAME
    )
    # A key of this test only: tokens other tests left in the shared database do not decrypt,
    # so no sweep here ever sends them to this sandbox.
    ring = KeyRing({"k1": SecretStr(generate_key())}, "k1")
    clock = Clock()
    async with (
        serve_sandbox(config) as sandbox_url,
        httpx.AsyncClient(timeout=30, event_hooks={"request": [widen_the_race]}) as http,
    ):
        ebay = EbayApiSettings(
            api_base_url=sandbox_url,
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            ru_name=RU_NAME,
        )
        # Each replica has its own connection pool, as separate processes would.
        engines = [create_async_engine(migrated_database_url) for _ in range(2)]
        a, b = (
            TokenService(
                async_sessionmaker(engine, expire_on_commit=False),
                ring,
                OAuthClient(http, ebay),
                scopes=SCOPE_STRING,
                refresh_ahead=timedelta(minutes=5),
                sweep_interval=timedelta(minutes=1),
                consent_warning=timedelta(days=30),
                clock=clock,
            )
            for engine in engines
        )
        try:
            yield Replicas(
                a,
                b,
                async_sessionmaker(engines[0], expire_on_commit=False),
                http,
                sandbox_url,
                clock,
            )
        finally:
            for engine in engines:
                await engine.dispose()


async def test_two_replicas_asked_for_one_expired_token_refresh_it_once(
    replicas: Replicas,
) -> None:
    account_id = await replicas.connect()
    replicas.clock.now += timedelta(hours=2)
    before = await replicas.token_endpoint_calls()
    request = GetAccessToken(account_id=account_id)
    replies = await asyncio.gather(
        *(replica.get_access_token(request) for replica in (replicas.a, replicas.b) * 3)
    )
    tokens = {r.access_token.get_secret_value() for r in replies if r.access_token is not None}
    assert len(tokens) == 1 and len(replies) == 6
    assert await replicas.token_endpoint_calls() - before == 1
    assert await replicas.refresh_log(account_id) == [("connect", "ok"), ("expired", "ok")]


async def test_a_401_seen_by_many_fetchers_is_one_refresh_on_any_replica(
    replicas: Replicas,
) -> None:
    account_id = await replicas.connect()
    rejected = await replicas.a.get_access_token(GetAccessToken(account_id=account_id))
    assert rejected.access_token is not None
    await replicas.http.post(
        f"{replicas.sandbox_url}/sandbox/tokens/revoke",
        json={"token": rejected.access_token.get_secret_value()},
    )
    before = await replicas.token_endpoint_calls()
    forced = GetAccessToken(
        account_id=account_id,
        force_refresh=True,
        rejected_token_sha256=token_fingerprint(rejected.access_token),
    )
    replies = await asyncio.gather(
        *(replica.get_access_token(forced) for replica in (replicas.a, replicas.b) * 2)
    )
    fresh = {r.access_token.get_secret_value() for r in replies if r.access_token is not None}
    assert len(fresh) == 1 and len(replies) == 4
    assert rejected.access_token.get_secret_value() not in fresh
    # A fetcher reporting the same rejected token later gets the new one, no refresh either.
    late = await replicas.b.get_access_token(forced)
    assert late.access_token is not None and late.access_token.get_secret_value() in fresh
    assert await replicas.token_endpoint_calls() - before == 1
    user = await replicas.http.get(
        f"{replicas.sandbox_url}/commerce/identity/v1/user/",
        headers={"Authorization": f"Bearer {fresh.pop()}"},
    )
    assert user.status_code == 200
    # An operator's forced refresh names no token: it always refreshes.
    await replicas.b.get_access_token(GetAccessToken(account_id=account_id, force_refresh=True))
    assert await replicas.refresh_log(account_id) == [
        ("connect", "ok"),
        ("forced", "ok"),
        ("forced", "ok"),
    ]


async def test_concurrent_sweeps_of_two_replicas_refresh_a_due_token_once(
    replicas: Replicas,
) -> None:
    account_id = await replicas.connect()
    # 5.5 minutes before expiry: outside the callers' 5-minute margin, inside the sweep's.
    replicas.clock.now += timedelta(hours=2) - timedelta(minutes=5, seconds=30)
    before = await replicas.token_endpoint_calls()
    await asyncio.gather(replicas.a.sweep(), replicas.b.sweep())
    assert await replicas.token_endpoint_calls() - before == 1
    assert await replicas.refresh_log(account_id) == [("connect", "ok"), ("sweep", "ok")]
    # The swept token serves callers without another refresh.
    reply = await replicas.b.get_access_token(GetAccessToken(account_id=account_id))
    assert reply.access_token is not None
    assert await replicas.token_endpoint_calls() - before == 1


async def test_a_sweep_leaves_valid_tokens_and_accounts_that_need_reauth_alone(
    replicas: Replicas,
) -> None:
    fresh_account = await replicas.connect()
    refused_account = await replicas.connect()
    async with replicas.sessions.begin() as session:
        await session.execute(
            update(EbayAccount).where(EbayAccount.id == refused_account).values(needs_reauth=True)
        )
        # The refused account's token is long expired: still, only the seller can help.
        await session.execute(
            update(EbayToken)
            .where(EbayToken.account_id == refused_account)
            .values(access_token_expires_at=replicas.clock.now - timedelta(hours=1))
        )
    before = await replicas.token_endpoint_calls()
    await replicas.a.sweep()
    assert await replicas.token_endpoint_calls() == before
    assert await replicas.refresh_log(fresh_account) == [("connect", "ok")]
    assert await replicas.refresh_log(refused_account) == [("connect", "ok")]
    reply = await replicas.a.get_access_token(GetAccessToken(account_id=refused_account))
    assert reply.error is TokenErrorCode.NEEDS_REAUTH


async def test_a_consent_ending_soon_is_warned_about_once_a_day_across_replicas(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="token_service.service")
    account_id = await replicas.connect()
    ours = f"account {account_id}:"

    def warnings() -> int:
        return sum(ours in r.getMessage() and "consent" in r.getMessage() for r in caplog.records)

    await asyncio.gather(replicas.a.warn_consent_ending(), replicas.b.warn_consent_ending())
    assert warnings() == 0  # 18 months left
    replicas.clock.now += CONSENT - timedelta(days=10)
    await asyncio.gather(replicas.a.warn_consent_ending(), replicas.b.warn_consent_ending())
    assert warnings() == 1
    replicas.clock.now += timedelta(hours=23)
    await replicas.b.warn_consent_ending()
    assert warnings() == 1
    replicas.clock.now += timedelta(hours=1)
    await replicas.a.warn_consent_ending()
    assert warnings() == 2
    ending = REGISTRY.get_sample_value("ebaysync_refresh_tokens_expiring")
    assert ending is not None and ending >= 1
    # An account that must reconnect anyway is no longer counted as ending soon.
    async with replicas.sessions.begin() as session:
        await session.execute(
            update(EbayAccount).where(EbayAccount.id == account_id).values(needs_reauth=True)
        )
    await replicas.a.warn_consent_ending()
    assert REGISTRY.get_sample_value("ebaysync_refresh_tokens_expiring") == ending - 1
