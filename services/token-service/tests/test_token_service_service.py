"""The token service against the eBay sandbox's OAuth endpoint and a real PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from embedded_servers import find_free_port
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.tokens import EbayToken, TokenRefreshLog
from common.ebay.scopes import SCOPE_STRING
from common.messages import ConnectAccount, GetAccessToken, TokenErrorCode
from common.settings import EbayApiSettings
from ebay_sandbox.app import create_app as create_sandbox
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from testkit.factories import create_account
from token_service.crypto import KeyRing, TokenDecryptionError, generate_key
from token_service.oauth import OAuthClient
from token_service.service import TokenService

pytestmark = pytest.mark.postgres

CLIENT_ID, CLIENT_SECRET, RU_NAME = "svc-SBX-client", "svc-secret", "svc-RuName"
KEY = generate_key()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    service: TokenService
    sandbox: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    account_id: int
    username: str

    async def connect(self) -> None:
        code = await approve_consent(
            self.sandbox,
            username=self.username,
            client_id=CLIENT_ID,
            ru_name=RU_NAME,
            scopes=SCOPE_STRING,
        )
        reply = await self.service.connect(
            ConnectAccount(account_id=self.account_id, authorization_code=SecretStr(code))
        )
        assert reply.connected

    async def token(self, *, force: bool = False) -> SecretStr:
        reply = await self.service.get_access_token(
            GetAccessToken(account_id=self.account_id, force_refresh=force)
        )
        assert reply.access_token is not None, reply.error
        return reply.access_token

    async def refresh_log(self) -> list[tuple[str, str]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(TokenRefreshLog)
                .where(TokenRefreshLog.account_id == self.account_id)
                .order_by(TokenRefreshLog.id)
            )
            return [(r.reason, r.outcome) for r in rows]


def token_service(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    clock: Clock,
    key: str = KEY,
) -> TokenService:
    settings = EbayApiSettings(
        api_base_url="http://sandbox",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
    )
    return TokenService(
        sessions,
        KeyRing({"k1": SecretStr(key)}, "k1"),
        OAuthClient(http, settings),
        scopes=SCOPE_STRING,
        refresh_ahead=timedelta(minutes=5),
        sweep_interval=timedelta(minutes=1),
        consent_warning=timedelta(days=30),
        clock=clock,
    )


@pytest.fixture
async def env(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Env]:
    sandbox_app = create_sandbox(
        SandboxConfig(
            sellers=1, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET), ru_name=RU_NAME
        )
    )
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        username = (await http.get("/sandbox/sellers")).json()[0]["username"]
        async with sessions.begin() as session:
            account_id = (await create_account(session, username=username)).id
        clock = Clock()
        yield Env(token_service(sessions, http, clock), http, sessions, clock, account_id, username)


async def test_connect_stores_the_grant_encrypted_and_hands_out_a_working_token(env: Env) -> None:
    await env.connect()
    token = await env.token()
    response = await env.sandbox.get(
        "/commerce/identity/v1/user/",
        headers={"Authorization": f"Bearer {token.get_secret_value()}"},
    )
    assert response.status_code == 200
    assert response.json()["username"] == env.username
    async with env.sessions() as session:
        stored = await session.get(EbayToken, env.account_id)
    assert stored is not None
    assert stored.access_token_ciphertext is not None
    assert token.get_secret_value().encode() not in stored.access_token_ciphertext
    assert stored.key_id == "k1"
    # A valid token is handed out again without calling eBay.
    assert (await env.token()).get_secret_value() == token.get_secret_value()
    assert await env.refresh_log() == [("connect", "ok")]


async def test_an_expired_access_token_is_refreshed_first(env: Env) -> None:
    await env.connect()
    first = await env.token()
    env.clock.now += timedelta(hours=2)
    second = await env.token()
    assert second.get_secret_value() != first.get_secret_value()
    assert await env.refresh_log() == [("connect", "ok"), ("expired", "ok")]


async def test_a_token_about_to_expire_is_refreshed_ahead(env: Env) -> None:
    await env.connect()
    env.clock.now += timedelta(hours=2) - timedelta(minutes=3)
    await env.token()
    assert await env.refresh_log() == [("connect", "ok"), ("ahead", "ok")]


async def test_a_forced_refresh_replaces_a_token_eBay_refused(env: Env) -> None:
    await env.connect()
    revoked = await env.token()
    await env.sandbox.post("/sandbox/tokens/revoke", json={"token": revoked.get_secret_value()})
    fresh = await env.token(force=True)
    response = await env.sandbox.get(
        "/commerce/identity/v1/user/",
        headers={"Authorization": f"Bearer {fresh.get_secret_value()}"},
    )
    assert response.status_code == 200


async def test_a_refused_refresh_token_marks_the_account_for_reauth_and_stops_calling_eBay(
    env: Env,
) -> None:
    await env.connect()
    async with env.sessions() as session:
        stored = await session.get(EbayToken, env.account_id)
        assert stored is not None
        refresh = KeyRing({"k1": SecretStr(KEY)}, "k1").decrypt(
            stored.refresh_token_ciphertext,
            key_id="k1",
            account_id=env.account_id,
            purpose="refresh_token",
        )
    await env.sandbox.post("/sandbox/tokens/revoke", json={"token": refresh.get_secret_value()})
    for _ in range(3):
        reply = await env.service.get_access_token(
            GetAccessToken(account_id=env.account_id, force_refresh=True)
        )
        assert reply.error is TokenErrorCode.NEEDS_REAUTH
        assert reply.access_token is None
    async with env.sessions() as session:
        account = await session.get(EbayAccount, env.account_id, populate_existing=True)
        assert account is not None and account.needs_reauth
    # One refused refresh, not a retry storm.
    assert await env.refresh_log() == [("connect", "ok"), ("forced", "invalid_grant")]


async def test_an_unknown_account_gets_a_clear_error(env: Env) -> None:
    reply = await env.service.get_access_token(GetAccessToken(account_id=987654321))
    assert reply.error is TokenErrorCode.UNKNOWN_ACCOUNT


async def test_a_token_under_another_key_fails_loudly_instead_of_reaching_eBay(
    env: Env, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await env.connect()
    wrong_key = token_service(sessions, env.sandbox, env.clock, key=generate_key())
    with pytest.raises(TokenDecryptionError):
        await wrong_key.get_access_token(GetAccessToken(account_id=env.account_id))


async def test_no_token_ever_reaches_a_log_line(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await env.connect()
    tokens = [await env.token()]
    env.clock.now += timedelta(hours=3)
    tokens.append(await env.token())
    tokens.append(await env.token(force=True))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "connected" in logged  # the service did log
    for token in tokens:
        assert token.get_secret_value() not in logged


async def test_an_unreachable_token_endpoint_is_a_failed_refresh_in_the_log(
    env: Env, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await env.connect()
    env.clock.now += timedelta(hours=2)
    nowhere = EbayApiSettings(
        api_base_url=f"http://127.0.0.1:{find_free_port()}",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
    )
    async with httpx.AsyncClient(timeout=5) as http:
        service = TokenService(
            sessions,
            KeyRing({"k1": SecretStr(KEY)}, "k1"),
            OAuthClient(http, nowhere),
            scopes=SCOPE_STRING,
            refresh_ahead=timedelta(minutes=5),
            sweep_interval=timedelta(minutes=1),
            consent_warning=timedelta(days=30),
            clock=env.clock,
        )
        reply = await service.get_access_token(GetAccessToken(account_id=env.account_id))
    assert reply.error is TokenErrorCode.REFRESH_FAILED
    assert await env.refresh_log() == [("connect", "ok"), ("expired", "error")]
    # eBay answers again: the next request refreshes.
    assert (await env.token()).get_secret_value()
