"""eBay marketplace account-deletion notices in the admin API's tests: a fake eBay answering the
token and getPublicKey calls, notices signed with a key of our own, and an order to purge."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.families import Family
from common.messages import PageBatch, Trigger
from common.settings import EbayApiSettings
from testkit.ebay_samples import make_order
from writer.service import PageWriter

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


def compact(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


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
