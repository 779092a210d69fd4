"""Fixtures of the account-deletion tests: the admin API configured for eBay's test vectors, a
client on it, and eBay's getPublicKey faked with a vector's key or one of our own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.context import AdminContext
from admin_api.notifications import NotificationKeys
from common.db.admin import DeletionNoticeSeen
from testkit.admin import admin_settings, serve_admin
from testkit.deletion import EBAY, OwnSigner, fake_ebay

CONTRACTS = Path(__file__).parent.parent / "contracts"
CHALLENGE = json.loads((CONTRACTS / "challenge_test_vector.json").read_text())


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


@pytest.fixture
def signer(app: FastAPI) -> OwnSigner:
    own = OwnSigner()
    context: AdminContext = app.state.context
    vector = {"response": {"key": own.one_line_pem, "algorithm": "ECDSA", "digest": "SHA1"}}
    http = httpx.AsyncClient(transport=fake_ebay(vector, []))
    context.notification_keys = NotificationKeys(http, EBAY, cache_seconds=3600)
    return own
