"""eBay marketplace account-deletion notifications, replayed from eBay's own test vectors, and
the limits checked before any work (body size, nesting). Replays, unknown key ids, real HTTP and
revocations: test_admin_api_webhooks_hardening."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.orders import EbayOrder
from common.db.tokens import StoredTokens, TokenRepository
from testkit.admin import admin_settings, serve_admin
from testkit.deletion import (
    Chunks,
    MiB,
    compact,
    write_order,
)
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


CONTRACTS = Path(__file__).parent.parent / "contracts"
CHALLENGE = json.loads((CONTRACTS / "challenge_test_vector.json").read_text())
SIGNED = json.loads((CONTRACTS / "account_deletion_signed_test_vectors.json").read_text())
PATH = "/api/ebay/account-deletion"


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


@pytest.mark.parametrize("declared", [True, False])
async def test_a_50_mib_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, use_vector: Callable[[dict[str, Any]], list[str]], declared: bool
) -> None:
    calls = use_vector(SIGNED["VALID"])
    body = Chunks(50)
    headers = {"x-ebay-signature": SIGNED["VALID"]["signature"]}
    if declared:
        headers["content-length"] = str(50 * MiB)
    started = time.monotonic()
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == 413
    # Declared: refused unread; streamed: refused at the first chunk past 64 KiB.
    assert body.pulled == (0 if declared else 1)
    assert calls == []  # not even the signature's key was looked up
    assert time.monotonic() - started < 5


async def test_deep_nesting_is_a_400_not_a_server_error(
    client: httpx.AsyncClient, use_vector: Callable[[dict[str, Any]], list[str]]
) -> None:
    use_vector(SIGNED["VALID"])
    body = b'{"metadata":' + b"[" * 30000 + b"]" * 30000 + b"}"
    response = await client.post(
        PATH, content=body, headers={"x-ebay-signature": SIGNED["VALID"]["signature"]}
    )
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]
