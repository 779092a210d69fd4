"""eBay marketplace account-deletion notifications, replayed from eBay's own test vectors."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.context import AdminContext
from admin_api.notifications import NotificationKeys
from common.db.accounts import EbayAccount
from common.db.admin import DeletionNoticeSeen
from common.db.orders import EbayOrder
from common.db.sync import SyncRepository
from common.db.tokens import StoredTokens, TokenRepository
from common.families import Family
from common.messages import PageBatch, Trigger
from common.settings import EbayApiSettings
from testkit.admin import admin_settings, create_signed_in_org, serve_admin, serve_admin_http
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
        # eBay's test vectors were published in 2021: keep them inside the replay window.
        deletion_replay_window_seconds=20 * 365 * 86400.0,
    )
    async with serve_admin(settings) as (app, _):
        yield app


@pytest.fixture(autouse=True)
async def forget_seen_notices(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The vectors' notification ids are fixed, and the database is shared by the session."""
    async with sessions.begin() as session:
        await session.execute(delete(DeletionNoticeSeen))


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


# --- hardening: limits before work, replays, unknown key ids ---------------------------------

MiB = 1024 * 1024


class Chunks:
    """A request body streamed in 1 MiB chunks, counting how many the server pulled."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b"[" * MiB


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


class OwnSigner:
    """Notices signed with a key of our own, which the fake eBay serves under ``kid``."""

    def __init__(self) -> None:
        self.kid = str(uuid.uuid4())
        self._key = ec.generate_private_key(ec.SECP256R1())
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.one_line_pem = pem.decode().replace("\n", "")

    def sign(self, message: dict[str, Any]) -> tuple[bytes, str]:
        body = compact(message)
        signature = self._key.sign(body, ec.ECDSA(hashes.SHA1()))
        header = {
            "alg": "ecdsa",
            "kid": self.kid,
            "signature": base64.b64encode(signature).decode(),
            "digest": "SHA1",
        }
        return body, base64.b64encode(json.dumps(header).encode()).decode()


def deletion_message(user_id: str, published: datetime) -> dict[str, Any]:
    return {
        "metadata": {"topic": "MARKETPLACE_ACCOUNT_DELETION", "schemaVersion": "1.0"},
        "notification": {
            "notificationId": str(uuid.uuid4()),
            "eventDate": published.isoformat(),
            "publishDate": published.isoformat().replace("+00:00", "Z"),
            "publishAttemptCount": 1,
            "data": {"username": f"u-{user_id}", "userId": user_id, "eiasToken": "x"},
        },
    }


@pytest.fixture
def signer(app: FastAPI) -> OwnSigner:
    own = OwnSigner()
    context: AdminContext = app.state.context
    vector = {"response": {"key": own.one_line_pem, "algorithm": "ECDSA", "digest": "SHA1"}}
    http = httpx.AsyncClient(transport=fake_ebay(vector, []))
    context.notification_keys = NotificationKeys(http, EBAY, cache_seconds=3600)
    return own


async def is_active(sessions: async_sessionmaker[AsyncSession], account_id: int) -> bool:
    async with sessions() as session:
        account = await session.get(EbayAccount, account_id)
        assert account is not None
        return account.active


async def test_a_replayed_notice_is_acknowledged_without_effect(
    client: httpx.AsyncClient, signer: OwnSigner, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id = f"replayed-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        first = await create_account(session, ebay_user_id=user_id)
    body, header = signer.sign(deletion_message(user_id, datetime.now(UTC)))
    response = await client.post(PATH, content=body, headers={"x-ebay-signature": header})
    assert response.status_code == 204
    assert not await is_active(sessions, first.id)
    # The seller connects again (a new account with the same eBay user); the old notice
    # replayed must not delete it.
    async with sessions.begin() as session:
        second = await create_account(session, ebay_user_id=user_id)
    for _ in range(3):
        response = await client.post(PATH, content=body, headers={"x-ebay-signature": header})
        assert response.status_code == 204
    assert await is_active(sessions, second.id)


async def test_a_notice_published_before_the_replay_window_has_no_effect(
    client: httpx.AsyncClient, signer: OwnSigner, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id = f"old-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        account = await create_account(session, ebay_user_id=user_id)
    # The fixture's window is 20 years (for eBay's 2021 vectors); 21 years is beyond it.
    old = datetime.now(UTC) - timedelta(days=21 * 365)
    body, header = signer.sign(deletion_message(user_id, old))
    response = await client.post(PATH, content=body, headers={"x-ebay-signature": header})
    assert response.status_code == 204
    assert await is_active(sessions, account.id)


def counting_ebay(key_status: int, calls: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/identity/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "app-token", "expires_in": 7200})
        calls.append(request.url.path.rsplit("/", 1)[-1])
        return httpx.Response(key_status, json={"errors": [{"errorId": 195000}]})

    return httpx.MockTransport(handle)


def forged_header(kid: str) -> str:
    fields = {"alg": "ecdsa", "kid": kid, "signature": "AAAA", "digest": "SHA1"}
    return base64.b64encode(json.dumps(fields).encode()).decode()


@pytest.mark.parametrize("key_status", [404, 500])
async def test_50_random_key_ids_make_a_bounded_number_of_ebay_calls(
    client: httpx.AsyncClient, app: FastAPI, key_status: int
) -> None:
    calls: list[str] = []
    context: AdminContext = app.state.context
    http = httpx.AsyncClient(transport=counting_ebay(key_status, calls))
    context.notification_keys = NotificationKeys(
        http, EBAY, cache_seconds=3600, negative_cache_seconds=300, lookups_per_minute=10
    )
    statuses = set()
    for _ in range(50):
        response = await client.post(
            PATH,
            content=compact(SIGNED["VALID"]["message"]),
            headers={"x-ebay-signature": forged_header(str(uuid.uuid4()))},
        )
        statuses.add(response.status_code)
    assert len(calls) == 10  # the per-minute budget; the other 40 never left the API
    assert statuses <= {412, 503}
    # A kid already looked up (unknown or failing) is not asked again within the interval.
    for _ in range(5):
        await client.post(
            PATH,
            content=compact(SIGNED["VALID"]["message"]),
            headers={"x-ebay-signature": forged_header(calls[0])},
        )
    assert len(calls) == 10


@pytest.mark.parametrize("declared", [True, False])
async def test_over_real_http_a_50_mib_body_is_a_quick_413(
    migrated_database_url: str, nats_url: str, declared: bool
) -> None:
    """As uvicorn serves it: the API answers before the upload ends and drops the rest."""
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        deletion_verification_token=SecretStr(CHALLENGE["verificationToken"]),
        deletion_endpoint=CHALLENGE["endpoint"],
    )
    async with (
        serve_admin_http(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        body: bytes | Chunks = b"[" * (50 * MiB) if declared else Chunks(50)
        started = time.monotonic()
        response = await client.post(PATH, content=body)
        assert response.status_code == 413
        assert time.monotonic() - started < 10


async def test_a_revocation_stops_the_account_deletes_its_tokens_and_says_why(
    client: httpx.AsyncClient,
    signer: OwnSigner,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id = f"revoked-{uuid.uuid4().hex[:8]}"
    org = await create_signed_in_org(client, sessions)
    async with sessions.begin() as session:
        account = await create_account(session, org_id=org.id, ebay_user_id=user_id)
        other = await create_account(session, org_id=org.id)
        for owner in (account, other):
            await TokenRepository(session).save(
                owner.id,
                StoredTokens(
                    "k", b"refresh", datetime.now(UTC) + timedelta(days=90), b"a", None, "s"
                ),
                datetime.now(UTC),
            )
    await write_order(sessions, account.id)
    message = deletion_message(user_id, datetime.now(UTC))
    message["metadata"]["topic"] = "AUTHORIZATION_REVOCATION"
    body, header = signer.sign(message)
    response = await client.post(PATH, content=body, headers={"x-ebay-signature": header})
    assert response.status_code == 204, response.text
    async with sessions() as session:
        revoked = await session.get(EbayAccount, account.id, populate_existing=True)
        assert revoked is not None
        assert revoked.active and revoked.needs_reauth and revoked.revoked_at is not None
        assert await TokenRepository(session).get(account.id) is None
        assert await TokenRepository(session).get(other.id) is not None  # only that seller's
        # Its data stays; its pairs are no longer scheduled.
        orders = await session.scalar(
            select(func.count()).select_from(EbayOrder).where(EbayOrder.account_id == account.id)
        )
        assert orders == 1
        pairs = await SyncRepository(session).pair_states(
            [Family.ORDERS], datetime.now(UTC), timedelta(minutes=10)
        )
        assert {p.account_id for p in pairs} >= {other.id}
        assert account.id not in {p.account_id for p in pairs}
    # The UI says why, through the API.
    shown = await client.get(f"/api/accounts/{account.id}", headers=org.viewer)
    assert shown.status_code == 200, shown.text
    assert shown.json()["revoked_at"] is not None
    workers = await client.get(f"/api/accounts/{account.id}/workers", headers=org.viewer)
    assert workers.status_code == 200, workers.text
    assert all("the seller revoked ebaysync's access" in w["status_reason"] for w in workers.json())
