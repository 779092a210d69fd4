"""The admin API tests' usual fixtures: an admin API on a fresh topology, a signed-in org of every
role, and an eBay account of that org. Also the worker-state helpers several of them share.

A test module takes a fixture under its usual name by assignment (``client =
admin_fixtures.client``): pytest registers module attributes, and an assignment, unlike an
import, is not taken for a name the test's parameter redefines. A module that needs other
settings defines its own ``client``; ``org`` and ``account`` then build on that one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.sync import SyncState
from common.messages import SyncWindow
from common.streams import WINDOWS_STREAM
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.factories import create_account


@pytest.fixture
async def client(
    migrated_database_url: str, nats_url: str, topology: JetStreamContext
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        yield client


@pytest.fixture
async def org(client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]) -> Org:
    return await create_signed_in_org(client, sessions)


@pytest.fixture
async def account(org: Org, sessions: async_sessionmaker[AsyncSession]) -> EbayAccount:
    async with sessions.begin() as session:
        return await create_account(session, org_id=org.id)


async def set_state(
    sessions: async_sessionmaker[AsyncSession], account_id: int, **values: object
) -> None:
    async with sessions.begin() as session:
        session.add(
            SyncState(
                account_id=account_id,
                family="orders",
                updated_at=datetime.now(UTC),
                **values,
            )
        )


async def published(js: JetStreamContext, account_id: int) -> tuple[SyncWindow, dict[str, str]]:
    msg = await js.get_last_msg(WINDOWS_STREAM, f"sync.window.orders.{account_id}")
    return SyncWindow.model_validate_json(msg.data or b""), dict(msg.headers or {})


def by_family(items: list[dict[str, Any]], family: str) -> dict[str, Any]:
    """The one item of ``family`` in a per-family listing of the API."""
    [item] = [i for i in items if i["family"] == family]
    return item
