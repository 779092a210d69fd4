"""Operations API: account health, the background jobs card, token scopes, the masked refresh
preview and the last failed refresh. Real PostgreSQL and NATS; no body carries a secret."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.ops import BackgroundJob, HealthCheck, HealthRepository
from common.db.tokens import StoredTokens, TokenRepository
from common.ebay.scopes import SCOPE_STRING, SCOPES
from common.jobs import RETENTION_PURGE
from common.settings import EbayApiSettings
from testkit import admin_fixtures
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# The usual org and account (testkit.admin_fixtures), on this module's client.
org = admin_fixtures.org
account = admin_fixtures.account

CLIENT_ID = "OpsTest-ebaysync-PRD-0123456789"
CLIENT_SECRET = "PRD-super-secret-do-not-show"
REFRESH_CIPHERTEXT = b"ciphertext-of-the-refresh-token"
FINANCES = "https://api.ebay.com/oauth/api_scope/sell.finances"


@pytest.fixture
async def client(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    async with sessions.begin() as session:
        await session.execute(delete(BackgroundJob).where(BackgroundJob.name == RETENTION_PURGE))
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        ebay=EbayApiSettings(
            api_base_url="https://api.ebay.com",
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
        ),
        # Nothing of another test is old enough to go; the purge itself is what is tested.
        retention_days=3650,
        jobs_poll_seconds=0.1,
    )
    async with serve_admin(settings) as (_, client):
        yield client


async def store_token(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    *,
    granted: str | None = None,
    failure: dict[str, Any] | None = None,
) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        tokens = TokenRepository(session)
        await tokens.save(
            account_id,
            StoredTokens(
                key_id="k1",
                refresh_token_ciphertext=REFRESH_CIPHERTEXT,
                refresh_token_expires_at=now + timedelta(days=500),
                access_token_ciphertext=b"ciphertext-of-the-access-token",
                access_token_expires_at=now + timedelta(hours=2),
                scopes=granted or SCOPE_STRING,
                granted_scopes=granted,
            ),
            now,
        )
        if failure is not None:
            await tokens.record_refresh_error(account_id, "invalid_grant", now, failure)


def assert_no_secret(response: httpx.Response) -> None:
    for secret in (CLIENT_SECRET, CLIENT_ID, REFRESH_CIPHERTEXT.decode(), "ciphertext"):
        assert secret not in response.text


async def test_account_health_lists_the_checks_newest_first_and_is_org_scoped(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    unchecked = await client.get(f"/api/accounts/{account.id}/health", headers=org.viewer)
    assert unchecked.status_code == 200 and unchecked.json()["status"] == "unknown"
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        health = HealthRepository(session)
        await health.record(
            HealthCheck(
                account.id, now - timedelta(minutes=15), True, 200, None, 42, account.username
            )
        )
        await health.record(
            HealthCheck(account.id, now, False, 401, "1001: Invalid access token", 17, None)
        )
    body = (await client.get(f"/api/accounts/{account.id}/health", headers=org.viewer)).json()
    assert body["status"] == "failing" and not body["username_mismatch"]
    assert [(e["ok"], e["http_status"], e["latency_ms"]) for e in body["events"]] == [
        (False, 401, 17),
        (True, 200, 42),
    ]
    assert body["events"][1]["username"] == account.username

    other = await create_signed_in_org(client, sessions)
    denied = await client.get(f"/api/accounts/{account.id}/health", headers=other.admin)
    assert denied.status_code == 404


async def test_a_health_check_seeing_another_username_is_flagged(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await HealthRepository(session).record(
            HealthCheck(account.id, datetime.now(UTC), True, 200, None, 5, "somebody_else")
        )
    body = (await client.get(f"/api/accounts/{account.id}/health", headers=org.viewer)).json()
    assert body["status"] == "ok" and body["username_mismatch"]


async def test_jobs_are_listed_switched_and_run_now_by_their_owner(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        health = HealthRepository(session)
        await health.record(
            HealthCheck(account.id, now - timedelta(days=3651), True, 200, None, 1, "old")
        )
        await health.record(HealthCheck(account.id, now, True, 200, None, 1, "new"))
    assert (await client.get("/api/jobs", headers=org.operator)).status_code == 403
    jobs = {j["name"]: j for j in (await client.get("/api/jobs", headers=org.admin)).json()}
    purge = jobs[RETENTION_PURGE]
    assert purge["service"] == "admin-api" and purge["enabled"]
    assert purge["interval_seconds"] == 86400 and purge["last_run_at"] is None

    for path in ("disable", "enable", "run"):
        refused = await client.post(f"/api/jobs/{RETENTION_PURGE}/{path}", headers=org.operator)
        assert refused.status_code == 403
    missing = await client.post("/api/jobs/no_such_job/run", headers=org.admin)
    assert missing.status_code == 404

    disabled = await client.post(f"/api/jobs/{RETENTION_PURGE}/disable", headers=org.admin)
    assert disabled.status_code == 200 and not disabled.json()["enabled"]
    asked = await client.post(f"/api/jobs/{RETENTION_PURGE}/run", headers=org.admin)
    assert asked.json()["run_requested_at"] is not None
    await asyncio.sleep(0.5)  # several polls of the runner: a disabled job does not run
    job = await client.get("/api/jobs", headers=org.admin)
    assert next(j for j in job.json() if j["name"] == RETENTION_PURGE)["last_run_at"] is None

    await client.post(f"/api/jobs/{RETENTION_PURGE}/enable", headers=org.admin)
    for _ in range(100):
        jobs = {j["name"]: j for j in (await client.get("/api/jobs", headers=org.admin)).json()}
        if jobs[RETENTION_PURGE]["last_run_at"] is not None:
            break
        await asyncio.sleep(0.05)
    purge = jobs[RETENTION_PURGE]
    assert purge["last_ok"] is True and purge["run_requested_at"] is None
    assert "orgs:" in purge["last_result"] and "purged" in purge["last_result"]
    # Health checks past retention go with the other logs; recent ones stay.
    async with sessions() as session:
        kept = await HealthRepository(session).latest(account.id)
    assert [e.username for e in kept] == ["new"]


async def test_scopes_show_what_was_granted_and_warn_about_what_a_family_misses(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    none = (await client.get(f"/api/accounts/{account.id}/token/scopes", headers=org.viewer)).json()
    assert none["granted_source"] == "not_connected" and none["warning"] is None

    await store_token(sessions, account.id)
    full = (await client.get(f"/api/accounts/{account.id}/token/scopes", headers=org.viewer)).json()
    assert full["granted_source"] == "as_requested" and full["granted_scopes"] is None
    assert full["missing"] == [] and full["warning"] is None

    narrowed = " ".join(s for s in SCOPES if s != FINANCES)
    await store_token(sessions, account.id, granted=narrowed)
    response = await client.get(f"/api/accounts/{account.id}/token/scopes", headers=org.viewer)
    body = response.json()
    assert body["granted_source"] == "token_response"
    assert FINANCES not in body["granted_scopes"]
    assert body["missing"] == ["transactions", "finances"]
    assert "transactions, finances" in body["warning"]
    finances = next(n for n in body["needs"] if n["needed_by"] == "finances")
    assert finances == {"needed_by": "finances", "scopes": [FINANCES], "granted": False}
    assert_no_secret(response)


async def test_the_refresh_preview_is_masked_admin_only_and_sends_nothing(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    path = f"/api/accounts/{account.id}/token/preview-refresh"
    assert (await client.get(path, headers=org.admin)).status_code == 404  # no tokens yet
    await store_token(sessions, account.id)
    assert (await client.get(path, headers=org.operator)).status_code == 403
    response = await client.get(path, headers=org.admin)
    assert response.status_code == 200
    body = response.json()
    assert body["sent"] is False
    assert body["url"] == "https://api.ebay.com/identity/v1/oauth2/token"
    assert body["method"] == "POST" and body["grant_type"] == "refresh_token"
    assert body["scopes"] == SCOPE_STRING.split()
    assert body["client_id"] == "OpsT***********************6789"
    assert body["form"] == {
        "grant_type": "refresh_token",
        "refresh_token": "[not shown]",
        "scope": SCOPE_STRING,
    }
    assert body["headers"]["authorization"] == f"Basic base64({body['client_id']}:[not shown])"
    assert_no_secret(response)
    async with sessions() as session:
        stored = await TokenRepository(session).refresh_log(account.id)
    assert stored == []  # nothing was refreshed


async def test_the_last_failed_refresh_is_shown_masked_to_operators(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    path = f"/api/accounts/{account.id}/token/last-failure"
    empty = (await client.get(path, headers=org.operator)).json()
    assert empty["capture"] is None
    capture = {
        "at": datetime.now(UTC).isoformat(),
        "error": "invalid_grant",
        "request": {"method": "POST", "form": {"refresh_token": "[not shown]"}},
        "response": {"status": 400, "body": {"error": "invalid_grant"}},
    }
    await store_token(sessions, account.id, failure=capture)
    assert (await client.get(path, headers=org.viewer)).status_code == 403
    response = await client.get(path, headers=org.operator)
    body = response.json()
    assert body["refresh_error"] == "invalid_grant"
    assert body["capture"]["response"] == {"status": 400, "body": {"error": "invalid_grant"}}
    assert_no_secret(response)
