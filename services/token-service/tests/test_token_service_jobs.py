"""The token service's background jobs as deployed: two replicas (real processes' apps) on one
PostgreSQL and NATS, the sandbox over HTTP. "Run now" runs the health check once between them,
its call lands in the call ledger, and a disabled job runs on neither."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.ops import BackgroundJob, HealthEvent, JobRepository
from common.ebay.quota import EbayApi
from common.ebay.scopes import SCOPE_STRING
from common.jobs import HEALTH_CHECK, TOKEN_SWEEP
from common.ledger import _key, quota_day
from common.messages import ConnectAccount, ConnectAccountReply
from common.metrics import MetricsSettings
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.streams import BUCKETS
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from token_service.app import create_app
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

CLIENT_ID, CLIENT_SECRET, RU_NAME = "jobs-SBX-client", "jobs-secret", "jobs-RuName"
KEY = generate_key()


@pytest.fixture
async def replicas(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[str]:
    async with sessions.begin() as session:
        await session.execute(
            delete(BackgroundJob).where(BackgroundJob.name.in_([HEALTH_CHECK, TOKEN_SWEEP]))
        )
    config = SandboxConfig(
        sellers=1, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET), ru_name=RU_NAME
    )
    async with serve_sandbox(config) as sandbox_url:
        settings = TokenServiceSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(migrated_database_url)),
            ebay=EbayApiSettings(
                api_base_url=sandbox_url,
                apiz_base_url=sandbox_url,
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                ru_name=RU_NAME,
            ),
            metrics=MetricsSettings(port=0),
            keys={"k1": SecretStr(KEY)},
            active_key_id="k1",
            health_check_seconds=3600,
            jobs_poll_seconds=0.1,
        )
        apps = [create_app(settings), create_app(settings)]
        for app in apps:
            await app.start()
        try:
            yield sandbox_url
        finally:
            for app in apps:
                await app.stop()


async def connect(
    broker: NatsBroker, sessions: async_sessionmaker[AsyncSession], sandbox_url: str
) -> int:
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        username = (await http.get("/sandbox/sellers")).json()[0]["username"]
        code = await approve_consent(
            http, username=username, client_id=CLIENT_ID, ru_name=RU_NAME, scopes=SCOPE_STRING
        )
    async with sessions.begin() as session:
        account_id = (await create_account(session, username=username)).id
    reply = await broker.request(
        ConnectAccount(account_id=account_id, authorization_code=SecretStr(code)),
        ConnectAccount.SUBJECT,
        timeout=10,
    )
    assert ConnectAccountReply.model_validate_json(reply.body).connected
    return account_id


async def checks(sessions: async_sessionmaker[AsyncSession], account_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(HealthEvent.account_id == account_id)
        )
    return count or 0


async def job(sessions: async_sessionmaker[AsyncSession], name: str) -> BackgroundJob:
    async with sessions() as session:
        row = await JobRepository(session).get(name)
    assert row is not None
    return row


async def test_run_now_checks_once_across_replicas_and_disable_holds_on_both(
    replicas: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    topology: JetStreamContext,
) -> None:
    account_id = await connect(broker, sessions, replicas)
    for _ in range(100):  # both replicas registered; the sweep ran at once, the check did not
        rows = {name: await job(sessions, name) for name in (TOKEN_SWEEP, HEALTH_CHECK)}
        if rows[TOKEN_SWEEP].last_run_at is not None:
            break
        await asyncio.sleep(0.05)
    assert rows[TOKEN_SWEEP].last_ok and rows[TOKEN_SWEEP].service == "token-service"
    assert rows[HEALTH_CHECK].interval_seconds == 3600 and rows[HEALTH_CHECK].last_run_at is None
    assert await checks(sessions, account_id) == 0

    async with sessions.begin() as session:
        await JobRepository(session).request_run(HEALTH_CHECK, datetime.now(UTC))
    for _ in range(100):
        if (await job(sessions, HEALTH_CHECK)).last_run_at is not None:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # both replicas polled several times meanwhile
    health = await job(sessions, HEALTH_CHECK)
    assert health.last_ok and health.last_result and "healthy" in health.last_result
    assert await checks(sessions, account_id) == 1
    ledger = await topology.key_value(BUCKETS.call_ledger.bucket)
    key = _key(quota_day(datetime.now(UTC)), EbayApi.OTHER, f"account.{account_id}")
    assert (await ledger.get(key)).value == b"1"

    async with sessions.begin() as session:
        await JobRepository(session).set_enabled(HEALTH_CHECK, False)
        await JobRepository(session).request_run(HEALTH_CHECK, datetime.now(UTC))
    await asyncio.sleep(1.0)
    assert await checks(sessions, account_id) == 1
    assert (await job(sessions, HEALTH_CHECK)).run_requested_at is not None
