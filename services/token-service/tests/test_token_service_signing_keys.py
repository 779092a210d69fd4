"""The token service's signing key pair, against the sandbox's Key Management and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.signing_keys import EbaySigningKey
from common.ebay.signing import load_private_key
from common.messages import GetSigningKey, SigningKeyReply
from common.settings import EbayApiSettings
from ebay_sandbox.app import create_app as create_sandbox
from ebay_sandbox.settings import SandboxConfig
from token_service.crypto import KeyRing, generate_key
from token_service.signing_keys import SigningKeyService

pytestmark = pytest.mark.postgres

CLIENT_ID, CLIENT_SECRET = "keys-SBX-client", "keys-secret"
KEY = generate_key()


@dataclass
class Env:
    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    # Each test talks to "its own eBay", so stored keys of other tests are not its keys.
    base_url: str

    def service(self, secret: str = CLIENT_SECRET) -> SigningKeyService:
        ebay = EbayApiSettings(
            api_base_url=self.base_url,
            apiz_base_url=self.base_url,
            client_id=CLIENT_ID,
            client_secret=SecretStr(secret),
        )
        return SigningKeyService(
            self.sessions,
            KeyRing({"k1": SecretStr(KEY)}, "k1"),
            self.http,
            ebay,
            clock=lambda: datetime.now(UTC),
        )

    async def stored(self) -> list[EbaySigningKey]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(EbaySigningKey).where(EbaySigningKey.apiz_base_url == self.base_url)
            )
            return list(rows)


@pytest.fixture
async def env(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Env]:
    sandbox = create_sandbox(
        SandboxConfig(sellers=1, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET))
    )
    base_url = f"http://sandbox-{uuid.uuid4().hex[:12]}"
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield Env(http, sessions, base_url)


def assert_complete(reply: SigningKeyReply) -> SecretStr:
    assert reply.error_detail is None
    assert reply.signing_key_id and reply.jwe and reply.cipher == "ED25519"
    assert reply.expires_at is not None and reply.expires_at > datetime.now(UTC)
    assert reply.private_key is not None
    return reply.private_key


async def test_the_key_pair_is_created_once_and_stored_encrypted(env: Env) -> None:
    service = env.service()
    first = await service.get_signing_key(GetSigningKey())
    private_key = assert_complete(first)
    load_private_key(private_key)  # a usable key, as Key Management handed it out
    second = await service.get_signing_key(GetSigningKey())
    assert second == first
    [stored] = await env.stored()
    assert stored.signing_key_id == first.signing_key_id
    assert stored.jwe == first.jwe
    raw = base64.b64decode(private_key.get_secret_value())
    assert raw not in stored.private_key_ciphertext
    assert private_key.get_secret_value().encode() not in stored.private_key_ciphertext
    # Another replica (another service object) hands out the same pair.
    assert await env.service().get_signing_key(GetSigningKey()) == first


async def test_replicas_asking_at_once_create_one_key_pair(env: Env) -> None:
    replies = await asyncio.gather(
        *(env.service().get_signing_key(GetSigningKey()) for _ in range(4))
    )
    assert len({reply.signing_key_id for reply in replies}) == 1
    assert len(await env.stored()) == 1


async def test_without_the_apps_credentials_no_key_is_created(env: Env) -> None:
    reply = await env.service(secret="wrong").get_signing_key(GetSigningKey())
    assert reply.private_key is None
    assert reply.error_detail is not None and "invalid_client" in reply.error_detail
    assert await env.stored() == []
    # The private key never appears in a reply's repr.
    good = await env.service().get_signing_key(GetSigningKey())
    assert good.private_key is not None
    assert good.private_key.get_secret_value() not in repr(good)
