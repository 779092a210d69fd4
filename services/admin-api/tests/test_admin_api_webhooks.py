"""eBay marketplace account-deletion notifications, replayed from eBay's own test vectors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.context import AdminContext
from admin_api.notifications import NotificationKeys
from common.db.accounts import EbayAccount
from common.db.orders import EbayOrder
from common.db.tokens import StoredTokens, TokenRepository
from common.families import Family
from common.messages import PageBatch, Trigger
from common.settings import EbayApiSettings
from testkit.admin import admin_settings, serve_admin
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from writer.service import PageWriter

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CONTRACTS = Path(__file__).parent / "contracts"
CHALLENGE = json.loads((CONTRACTS / "challenge_test_vector.json").read_text())
SIGNED = json.loads((CONTRACTS / "account_deletion_signed_test_vectors.json").read_text())
PATH = "/api/ebay/account-deletion"
EBAY = EbayApiSettings(
    api_base_url="https://api.ebay.test", client_id="app-id", client_secret=SecretStr("app-secret")
)


def fake_ebay(vector: dict[str, Any], calls: list[str]) -> httpx.MockTransport:
    """eBay's token endpoint and getPublicKey, answering as the vector's mock server does."""

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/identity/v1/oauth2/token":
            assert request.headers["authorization"].startswith("Basic ")
            assert b"grant_type=client_credentials" in request.content
            return httpx.Response(200, json={"access_token": "app-token", "expires_in": 7200})
        assert request.url.path.startswith("/commerce/notification/v1/public_key/")
        assert request.headers["authorization"] == "Bearer app-token"
        if vector["response"] is None:
            return httpx.Response(500, json={"errors": [{"errorId": 195000}]})
        return httpx.Response(200, json=vector["response"])

    return httpx.MockTransport(handle)


@pytest.fixture
async def app(migrated_database_url: str, nats_url: str) -> AsyncIterator[FastAPI]:
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        deletion_verification_token=SecretStr(CHALLENGE["verificationToken"]),
        deletion_endpoint=CHALLENGE["endpoint"],
    )
    async with serve_admin(settings) as (app, _):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


@pytest.fixture
def use_vector(app: FastAPI) -> Callable[[dict[str, Any]], list[str]]:
    def use(vector: dict[str, Any]) -> list[str]:
        calls: list[str] = []
        context: AdminContext = app.state.context
        http = httpx.AsyncClient(transport=fake_ebay(vector, calls))
        context.notification_keys = NotificationKeys(http, EBAY, cache_seconds=3600)
        return calls

    return use


def compact(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


async def test_the_challenge_answer_is_ebays_expected_digest(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH, params={"challenge_code": CHALLENGE["challengeCode"]})
    assert response.status_code == CHALLENGE["expected_response_status"]
    assert response.headers["content-type"] == CHALLENGE["expected_response_content_type"]
    assert response.json() == CHALLENGE["expected_response_body"]


async def test_a_verified_deletion_deactivates_the_account_and_purges_its_data(
    client: httpx.AsyncClient,
    use_vector: Callable[[dict[str, Any]], list[str]],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    vector = SIGNED["VALID"]
    user = vector["message"]["notification"]["data"]
    async with sessions.begin() as session:
        account = await create_account(
            session, ebay_user_id=user["userId"], username=user["username"]
        )
        await TokenRepository(session).save(
            account.id,
            StoredTokens("k", b"refresh", datetime.now(UTC) + timedelta(days=90), b"a", None, "s"),
            datetime.now(UTC),
        )
        await TokenRepository(session).log_refresh(account.id, datetime.now(UTC), "connect", "ok")
    await write_order(sessions, account.id)
    calls = use_vector(vector)
    response = await client.post(
        PATH,
        content=compact(vector["message"]),
        headers={"x-ebay-signature": vector["signature"], "content-type": "application/json"},
    )
    assert response.status_code == 204, response.text
    assert calls[-1].endswith(vector["public_key"])
    async with sessions() as session:
        gone = await session.get(EbayAccount, account.id)
        assert gone is not None and not gone.active and gone.needs_reauth
        assert gone.username == f"deleted-{account.id}" and gone.deactivated_at is not None
        assert await TokenRepository(session).get(account.id) is None
        assert await TokenRepository(session).refresh_log(account.id) == []
        orders = await session.scalar(
            select(func.count()).select_from(EbayOrder).where(EbayOrder.account_id == account.id)
        )
        assert orders == 0


async def test_the_signing_key_is_fetched_once_and_cached(
    client: httpx.AsyncClient, use_vector: Callable[[dict[str, Any]], list[str]]
) -> None:
    vector = SIGNED["VALID"]
    calls = use_vector(vector)
    for _ in range(2):
        response = await client.post(
            PATH,
            content=json.dumps(vector["message"], indent=2).encode(),
            headers={"x-ebay-signature": vector["signature"]},
        )
        assert response.status_code == 204
    assert len(calls) == 2  # one application token, one key


@pytest.mark.parametrize("name", ["INVALID", "SIGNATURE_MISMATCH"])
async def test_a_signature_that_does_not_verify_is_a_412_and_deletes_nothing(
    client: httpx.AsyncClient,
    use_vector: Callable[[dict[str, Any]], list[str]],
    sessions: async_sessionmaker[AsyncSession],
    name: str,
) -> None:
    vector = SIGNED[name]
    user = vector["message"]["notification"]["data"]
    async with sessions.begin() as session:
        account = await create_account(
            session, ebay_user_id=f"{user['userId']}-{uuid.uuid4().hex[:6]}"
        )
    use_vector(vector)
    response = await client.post(
        PATH, content=compact(vector["message"]), headers={"x-ebay-signature": vector["signature"]}
    )
    assert response.status_code == 412
    async with sessions() as session:
        assert (await session.get(EbayAccount, account.id)).active  # type: ignore[union-attr]


async def test_when_ebays_key_cannot_be_fetched_the_notice_is_refused_for_a_retry(
    client: httpx.AsyncClient, use_vector: Callable[[dict[str, Any]], list[str]]
) -> None:
    vector = SIGNED["ERROR"]
    use_vector(vector)
    response = await client.post(
        PATH, content=compact(vector["message"]), headers={"x-ebay-signature": vector["signature"]}
    )
    assert response.status_code == 503


@pytest.mark.parametrize("signature", [None, "", "not base64!", "eyJmb28iOiAiYmFyIn0="])
async def test_a_missing_or_malformed_signature_is_a_412(
    client: httpx.AsyncClient,
    use_vector: Callable[[dict[str, Any]], list[str]],
    signature: str | None,
) -> None:
    calls = use_vector(SIGNED["VALID"])
    headers = {} if signature is None else {"x-ebay-signature": signature}
    response = await client.post(PATH, content=compact(SIGNED["VALID"]["message"]), headers=headers)
    assert response.status_code == 412
    assert calls == []


async def test_without_configuration_the_endpoint_does_not_exist(
    migrated_database_url: str, nats_url: str
) -> None:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        assert (await client.get(PATH, params={"challenge_code": "x"})).status_code == 404
        assert (await client.post(PATH, content=b"{}")).status_code == 404


async def write_order(sessions: async_sessionmaker[AsyncSession], account_id: int) -> None:
    now = datetime.now(UTC)
    await PageWriter(sessions, lambda: datetime.now(UTC)).write(
        PageBatch(
            run_id=uuid.uuid4(),
            account_id=account_id,
            family=Family.ORDERS,
            window_from=now - timedelta(days=1),
            window_to=now - timedelta(minutes=5),
            trigger=Trigger.SCHEDULE,
            page_no=1,
            page_count=1,
            fetched_at=now,
            records=[make_order("DEL-1", modified=now - timedelta(hours=1))],
        ),
        None,
    )
