"""Health checks, granted scopes and the masked capture of a failed refresh: the token service
against the eBay sandbox, a real PostgreSQL and the call ledger on a real NATS."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository
from common.db.ops import HealthRepository
from common.db.tokens import EbayToken
from common.ebay.quota import EbayApi
from common.ebay.scopes import SCOPE_STRING, SCOPES, scope_needs
from common.ledger import CallCounter, CallLedger, CallLedgerSettings
from common.messages import ConnectAccount, GetAccessToken, TokenErrorCode
from common.settings import EbayApiSettings
from common.streams import BUCKETS
from ebay_sandbox.app import create_app as create_sandbox
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from testkit.factories import create_account
from token_service.crypto import KeyRing, generate_key
from token_service.health import HealthChecker
from token_service.oauth import OAuthClient
from token_service.service import TokenService

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

CLIENT_ID, CLIENT_SECRET, RU_NAME = "health-SBX-client-0123", "health-secret-xyz", "health-RuName"
FINANCES = "https://api.ebay.com/oauth/api_scope/sell.finances"


@dataclass
class Env:
    service: TokenService
    checker: HealthChecker
    ledger: CallLedger
    sandbox: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    account_id: int
    username: str
    spans: InMemorySpanExporter

    def span_text(self) -> str:
        """Every attribute and event of the health client's spans, as text."""
        return json.dumps(
            [
                {"name": s.name, "attributes": dict(s.attributes or {}), "events": str(s.events)}
                for s in self.spans.get_finished_spans()
            ],
            default=str,
        )

    async def connect(self, grant_scopes: str | None = None) -> None:
        code = await approve_consent(
            self.sandbox,
            username=self.username,
            client_id=CLIENT_ID,
            ru_name=RU_NAME,
            scopes=SCOPE_STRING,
            grant_scopes=grant_scopes,
        )
        reply = await self.service.connect(
            ConnectAccount(account_id=self.account_id, authorization_code=SecretStr(code))
        )
        assert reply.connected, reply.error_detail

    async def access_token(self, *, force: bool = False) -> str | None:
        reply = await self.service.get_access_token(
            GetAccessToken(account_id=self.account_id, force_refresh=force)
        )
        return None if reply.access_token is None else reply.access_token.get_secret_value()

    async def stored(self) -> EbayToken:
        async with self.sessions() as session:
            row = await session.get(EbayToken, self.account_id)
        assert row is not None
        return row


@pytest.fixture
async def env(
    sessions: async_sessionmaker[AsyncSession], topology: JetStreamContext
) -> AsyncIterator[Env]:
    sandbox_app = create_sandbox(
        SandboxConfig(
            sellers=1, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET), ru_name=RU_NAME
        )
    )
    calls = CallCounter()
    transport = httpx.ASGITransport(app=sandbox_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http,
        httpx.AsyncClient(
            transport=transport, event_hooks={"request": [calls.on_request]}
        ) as health_http,
    ):
        spans = InMemorySpanExporter()
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(spans))
        HTTPXClientInstrumentor.instrument_client(health_http, tracer_provider=tracing)
        username = (await http.get("/sandbox/sellers")).json()[0]["username"]
        async with sessions.begin() as session:
            account_id = (await create_account(session, username=username)).id
        ebay = EbayApiSettings(
            api_base_url="http://sandbox",
            apiz_base_url="http://sandbox",
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            ru_name=RU_NAME,
        )
        service = TokenService(
            sessions,
            KeyRing({"k1": SecretStr(generate_key())}, "k1"),
            OAuthClient(http, ebay),
            scopes=SCOPE_STRING,
            refresh_ahead=timedelta(minutes=5),
            sweep_interval=timedelta(minutes=1),
            consent_warning=timedelta(days=30),
            clock=lambda: datetime.now(UTC),
        )
        kv = await topology.key_value(BUCKETS.call_ledger.bucket)
        ledger = CallLedger(kv, calls, CallLedgerSettings())
        checker = HealthChecker(
            sessions, service, health_http, "http://sandbox", ledger, lambda: datetime.now(UTC)
        )
        yield Env(service, checker, ledger, http, sessions, account_id, username, spans)


async def events(env: Env) -> list[tuple[bool, int | None, str | None, str | None]]:
    async with env.sessions() as session:
        rows = await HealthRepository(session).latest(env.account_id)
    return [(r.ok, r.http_status, r.username, r.error) for r in reversed(rows)]


async def test_a_health_check_calls_get_user_records_the_username_and_is_charged_to_the_ledger(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await env.connect()
    before = await env.ledger.usage(EbayApi.OTHER, env.account_id)
    check = await env.checker.check(env.account_id)
    await env.ledger.flush()
    assert check.ok and check.http_status == 200 and check.username == env.username
    assert check.latency_ms is not None and check.latency_ms >= 0
    assert await events(env) == [(True, 200, env.username, None)]
    after = await env.ledger.usage(EbayApi.OTHER, env.account_id)
    assert after.account_calls == before.account_calls + 1

    # A revoked access token: eBay answers 401 and the check says so.
    token = await env.access_token()
    assert token is not None
    assert (await env.sandbox.post("/sandbox/tokens/revoke", json={"token": token})).is_success
    failed = await env.checker.check(env.account_id)
    assert not failed.ok and failed.http_status == 401 and failed.username is None
    assert failed.error and token not in failed.error
    # No token or credential in a log line or a span of the checks.
    assert [s.name for s in env.spans.get_finished_spans()].count("GET") >= 2
    for secret in (token, CLIENT_SECRET):
        assert secret not in caplog.text
        assert secret not in env.span_text()


async def test_an_account_that_needs_reauth_is_recorded_unhealthy_without_calling_ebay(
    env: Env,
) -> None:
    await env.connect()
    before = await env.ledger.usage(EbayApi.OTHER, env.account_id)
    async with env.sessions.begin() as session:
        await AccountRepository(session).mark_needs_reauth(env.account_id, True)
    check = await env.checker.check(env.account_id)
    await env.ledger.flush()
    assert not check.ok and check.http_status is None
    assert check.error is not None and TokenErrorCode.NEEDS_REAUTH in check.error
    assert (await env.ledger.usage(EbayApi.OTHER, env.account_id)) == before


async def test_granted_scopes_are_stored_and_refreshes_ask_only_for_them(env: Env) -> None:
    granted = " ".join(s for s in SCOPES if s != FINANCES)
    await env.connect(grant_scopes=granted)
    stored = await env.stored()
    assert stored.granted_scopes is not None
    assert set(stored.granted_scopes.split()) == set(granted.split())
    # A refresh asking for more than was granted would be refused (invalid_scope).
    assert await env.access_token(force=True) is not None
    assert set((await env.stored()).scopes.split()) == set(granted.split())
    missing = {n.needed_by for n in scope_needs(stored.granted_scopes) if not n.granted}
    assert missing == {"transactions", "finances"}


async def test_a_full_grant_sends_no_scope_field_and_stores_none(env: Env) -> None:
    await env.connect()
    stored = await env.stored()
    assert stored.granted_scopes is None and stored.scopes == SCOPE_STRING
    assert not [n for n in scope_needs(stored.scopes) if not n.granted]


async def test_a_failed_refresh_keeps_a_masked_capture_without_any_secret(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await env.connect()
    # The refresh token itself, revoked at eBay: the next refresh is refused (invalid_grant).
    async with env.sessions() as session:
        row = await session.get(EbayToken, env.account_id)
        assert row is not None
        refresh_token = env.service._decrypt(
            row, row.refresh_token_ciphertext, "refresh_token"
        ).get_secret_value()
    access = await env.access_token()
    assert access is not None
    revoked = await env.sandbox.post("/sandbox/tokens/revoke", json={"token": refresh_token})
    assert revoked.is_success
    reply = await env.service.get_access_token(
        GetAccessToken(account_id=env.account_id, force_refresh=True)
    )
    assert reply.error == TokenErrorCode.NEEDS_REAUTH
    capture = (await env.stored()).last_refresh_failure
    assert capture is not None
    assert capture["response"]["status"] == 400
    assert capture["response"]["body"]["error"] == "invalid_grant"
    assert capture["request"]["form"]["grant_type"] == "refresh_token"
    assert capture["request"]["form"]["refresh_token"] == "[not shown]"
    assert capture["request"]["headers"]["authorization"].startswith("Basic base64(heal")
    dumped = json.dumps(capture)
    for secret in (refresh_token, access, CLIENT_SECRET, CLIENT_ID):
        assert secret not in dumped
    # The client id is public (it is in every consent URL); the rest never reaches a log line.
    for secret in (refresh_token, access, CLIENT_SECRET):
        assert secret not in caplog.text
