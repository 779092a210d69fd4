"""The push ingress (admin_api.routes.push): eBay's notifications verified, deduplicated and
queued as NotificationReceived, or refused with a clear status and no effect at all."""

from __future__ import annotations

import base64
import json
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
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.context import AdminContext
from admin_api.notifications import NotificationKeys, challenge_response
from admin_api.routes.push import DUPLICATE_HEADER, REST_PATH, TRADING_PATH
from admin_api.settings import PushSettings
from common.db.accounts import EbayAccount
from common.db.admin import DeletionNoticeSeen
from common.families import Family
from common.messages import NotificationReceived
from common.push import trading_signature
from common.settings import EbayApiSettings
from common.streams import NOTIFICATIONS_STREAM
from testkit.admin import admin_settings, serve_admin
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CONTRACTS = Path(__file__).parent / "contracts"
SIGNED = json.loads((CONTRACTS / "account_deletion_signed_test_vectors.json").read_text())
TRADING = json.loads((CONTRACTS / "trading_notification_signature_vector.json").read_text())
EBAY = EbayApiSettings(
    api_base_url="https://api.ebay.test",
    client_id=TRADING["appId"],
    client_secret=SecretStr(TRADING["certId"]),
)
TOKEN = "push-verification-token-for-the-tests-0001"
PUBLIC_URL = "https://sync.example.test"
KID = "5f1c0a3e-0000-4000-8000-00000000a11c"
OUR_KEY = ec.generate_private_key(ec.SECP256R1())


def one_line_pem(key: ec.EllipticCurvePrivateKey) -> str:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode().replace("\n", "")


def fake_ebay(keys: dict[str, str], calls: list[str]) -> httpx.MockTransport:
    """eBay's token endpoint and getPublicKey: the keys it knows, 404 for any other kid."""

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/identity/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "app-token", "expires_in": 7200})
        kid = request.url.path.rsplit("/", 1)[-1]
        if kid not in keys:
            return httpx.Response(404, json={"errors": [{"errorId": 195001}]})
        return httpx.Response(200, json={"key": keys[kid], "algorithm": "ECDSA", "digest": "SHA1"})

    return httpx.MockTransport(handle)


@pytest.fixture
async def app(migrated_database_url: str, nats_url: str) -> AsyncIterator[FastAPI]:
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        ebay=EBAY,
        push=PushSettings(
            enabled=True,
            public_url=PUBLIC_URL,
            verification_token=SecretStr(TOKEN),
            trading_dev_id=TRADING["devId"],
            # eBay's deletion vector was published in 2021.
            max_age_seconds=20 * 365 * 86400.0,
        ),
        deletion_replay_window_seconds=20 * 365 * 86400.0,
    )
    async with serve_admin(settings) as (app, _):
        context: AdminContext = app.state.context
        await context.js.purge_stream(NOTIFICATIONS_STREAM)
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


@pytest.fixture
def ebay_calls(app: FastAPI) -> list[str]:
    calls: list[str] = []
    context: AdminContext = app.state.context
    keys = {
        KID: one_line_pem(OUR_KEY),
        SIGNED["VALID"]["public_key"]: SIGNED["VALID"]["response"]["key"],
    }
    http = httpx.AsyncClient(transport=fake_ebay(keys, calls))
    context.notification_keys = NotificationKeys(http, EBAY, cache_seconds=3600)
    return calls


@pytest.fixture
def js(app: FastAPI) -> JetStreamContext:
    context: AdminContext = app.state.context
    return context.js


async def queued(js: JetStreamContext) -> list[NotificationReceived]:
    """Every NotificationReceived the ingress put on the stream."""
    info = await js.stream_info(NOTIFICATIONS_STREAM)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        raw = await js.get_msg(NOTIFICATIONS_STREAM, seq)
        assert raw.data is not None
        found.append(NotificationReceived.model_validate_json(raw.data))
    return found


def order_confirmation(
    order_id: str, user_id: str = "seller-1", published: datetime | None = None
) -> dict[str, Any]:
    when = (published or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return {
        "metadata": {"topic": "ORDER_CONFIRMATION", "schemaVersion": "1.0", "deprecated": False},
        "notification": {
            "notificationId": str(uuid.uuid4()),
            "eventDate": when,
            "publishDate": when,
            "publishAttemptCount": 1,
            "data": {
                "user": {"userId": user_id, "username": "seller_one"},
                "order": {
                    "orderId": order_id,
                    "orderLineItems": [{"orderLineItemId": "l1", "listingId": "i1", "quantity": 1}],
                },
            },
        },
    }


def signed(
    message: dict[str, Any], key: ec.EllipticCurvePrivateKey = OUR_KEY, kid: str = KID
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(message, separators=(",", ":")).encode()
    signature = key.sign(body, ec.ECDSA(hashes.SHA1()))
    header = {
        "alg": "ecdsa",
        "kid": kid,
        "signature": base64.b64encode(signature).decode(),
        "digest": "SHA1",
    }
    value = base64.b64encode(json.dumps(header).encode()).decode()
    return body, {"x-ebay-signature": value, "content-type": "application/json"}


# --- REST ---------------------------------------------------------------------------------


async def test_the_challenge_is_answered_for_the_registered_endpoint(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(REST_PATH, params={"challenge_code": "abc-123"})
    assert response.status_code == 200
    assert response.json() == {
        "challengeResponse": challenge_response("abc-123", TOKEN, PUBLIC_URL + REST_PATH)
    }


async def test_a_signed_order_notification_is_queued_once_with_its_order(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    message = order_confirmation("27-00001-00001")
    body, headers = signed(message)
    first = await client.post(REST_PATH, content=body, headers=headers)
    assert first.status_code == 204, first.text
    again = await client.post(REST_PATH, content=body, headers=headers)
    # The same notification id: acknowledged (eBay would resend anything else), no effect.
    assert again.status_code == 204 and again.headers[DUPLICATE_HEADER] == "true"
    assert DUPLICATE_HEADER not in first.headers
    [queued_one] = await queued(js)
    assert queued_one.topic == "ORDER_CONFIRMATION" and queued_one.source == "rest"
    assert queued_one.family is Family.ORDERS and queued_one.targets == ["27-00001-00001"]
    assert queued_one.ebay_user_id == "seller-1"
    assert queued_one.notification_id == message["notification"]["notificationId"]
    assert ebay_calls.count(f"/commerce/notification/v1/public_key/{KID}") == 1


async def test_a_notification_signed_with_another_key_is_412_and_queues_nothing(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    body, headers = signed(
        order_confirmation("27-00001-00002"), key=ec.generate_private_key(ec.SECP256R1())
    )
    response = await client.post(REST_PATH, content=body, headers=headers)
    assert response.status_code == 412
    assert await queued(js) == []


async def test_a_tampered_body_is_412_and_queues_nothing(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    body, headers = signed(order_confirmation("27-00001-00003"))
    response = await client.post(
        REST_PATH, content=body.replace(b"27-00001-00003", b"27-00001-99999"), headers=headers
    )
    assert response.status_code == 412
    assert await queued(js) == []


async def test_an_unsigned_notification_is_412(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    response = await client.post(REST_PATH, content=b"{}")
    assert response.status_code == 412
    assert await queued(js) == [] and ebay_calls == []


async def test_an_unknown_key_is_412_and_looked_up_once_per_interval(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    unknown = str(uuid.uuid4())
    for n in range(3):
        body, headers = signed(order_confirmation(f"27-00002-0000{n}"), kid=unknown)
        response = await client.post(REST_PATH, content=body, headers=headers)
        assert response.status_code == 412
    assert ebay_calls.count(f"/commerce/notification/v1/public_key/{unknown}") == 1
    assert await queued(js) == []


async def test_an_oversized_body_is_413_unread(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    message = order_confirmation("27-00003-00001")
    message["notification"]["data"]["padding"] = "x" * (64 * 1024)
    body, headers = signed(message)
    response = await client.post(REST_PATH, content=body, headers=headers)
    assert response.status_code == 413
    assert await queued(js) == [] and ebay_calls == []  # not even the key was fetched


async def test_a_notification_published_too_long_ago_is_409(
    app: FastAPI, client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext
) -> None:
    app.state.context.settings.push.max_age_seconds = 3600.0
    old = datetime.now(UTC) - timedelta(hours=2)
    body, headers = signed(order_confirmation("27-00004-00001", published=old))
    response = await client.post(REST_PATH, content=body, headers=headers)
    assert response.status_code == 409
    assert await queued(js) == []


async def test_ebays_deletion_vector_deactivates_the_account_through_the_push_path(
    client: httpx.AsyncClient,
    ebay_calls: list[str],
    js: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    vector = SIGNED["VALID"]
    user = vector["message"]["notification"]["data"]
    async with sessions.begin() as session:
        await session.execute(delete(DeletionNoticeSeen))
        account = await create_account(session, ebay_user_id=user["userId"])
    body = json.dumps(vector["message"], separators=(",", ":")).encode()
    response = await client.post(
        REST_PATH, content=body, headers={"x-ebay-signature": vector["signature"]}
    )
    assert response.status_code == 204, response.text
    async with sessions() as session:
        gone = await session.get(EbayAccount, account.id)
        assert gone is not None and not gone.active
    [note] = await queued(js)
    assert note.topic == "MARKETPLACE_ACCOUNT_DELETION" and note.family is None


@pytest.mark.parametrize("name", ["INVALID", "SIGNATURE_MISMATCH"])
async def test_ebays_bad_vectors_are_412(
    client: httpx.AsyncClient, ebay_calls: list[str], js: JetStreamContext, name: str
) -> None:
    vector = SIGNED[name]
    body = json.dumps(vector["message"], separators=(",", ":")).encode()
    response = await client.post(
        REST_PATH, content=body, headers={"x-ebay-signature": vector["signature"]}
    )
    assert response.status_code == 412
    assert await queued(js) == []


# --- Trading ------------------------------------------------------------------------------


def test_the_trading_signature_is_the_vectors() -> None:
    assert (
        trading_signature(
            TRADING["timestamp"], TRADING["devId"], TRADING["appId"], TRADING["certId"]
        )
        == TRADING["expected_signature"]
    )


def trading_envelope(stamp: str, signature: str | None = None) -> bytes:
    envelope: str = TRADING["soap_envelope"]
    signature = signature or trading_signature(
        stamp, TRADING["devId"], TRADING["appId"], TRADING["certId"]
    )
    return (
        envelope.replace(TRADING["timestamp"], stamp)
        .replace(TRADING["expected_signature"], signature)
        .encode()
    )


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def test_a_signed_trading_notification_is_queued_with_its_order(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = trading_envelope(now_stamp())
    response = await client.post(TRADING_PATH, content=body, headers=TRADING["http_headers"])
    assert response.status_code == 200, response.text
    again = await client.post(TRADING_PATH, content=body, headers=TRADING["http_headers"])
    assert again.status_code == 200 and again.headers[DUPLICATE_HEADER] == "true"
    [note] = await queued(js)
    assert note.source == "trading" and note.topic == "FixedPriceTransaction"
    assert note.family is Family.ORDERS and note.targets == ["01-00000-00001"]
    assert note.username == "test_seller_1"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: trading_envelope(TRADING["timestamp"]), id="the vector's old time"),
        pytest.param(
            lambda: trading_envelope(now_stamp(), "AAAAAAAAAAAAAAAAAAAAAA=="), id="forged"
        ),
        pytest.param(
            lambda: TRADING["soap_envelope"].replace("ebl:NotificationSignature", "x").encode(),
            id="unsigned",
        ),
    ],
)
async def test_an_old_forged_or_unsigned_trading_notification_is_412(
    client: httpx.AsyncClient, js: JetStreamContext, body: Callable[[], bytes]
) -> None:
    response = await client.post(TRADING_PATH, content=body(), headers=TRADING["http_headers"])
    assert response.status_code == 412
    assert await queued(js) == []


async def test_the_ingress_is_404_while_push_is_off(
    migrated_database_url: str, nats_url: str
) -> None:
    settings = admin_settings(nats_url, migrated_database_url)
    async with serve_admin(settings) as (_, client):
        assert (await client.get(REST_PATH, params={"challenge_code": "x"})).status_code == 404
        assert (await client.post(TRADING_PATH, content=b"")).status_code == 404
