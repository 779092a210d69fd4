"""Fixtures of the alert tests: a real SMTP server (aiosmtpd), a real HTTP receiver, the admin
API with its alert job driven by the test, and a signed-in org with an account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from admin_api.settings import AlertSettings
from common.db.accounts import EbayAccount
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.alerts import Admin, Hooks, Mailbox
from testkit.factories import create_account
from testkit.sandbox import serve_asgi


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = find_free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Hooks, str]]:
    hooks = Hooks()

    async def receive(request: Request) -> Response:
        hooks.received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    async with serve_asgi(app) as url:
        yield hooks, f"{url}/hook"


@pytest.fixture
async def admin(
    migrated_database_url: str, nats_url: str, topology: JetStreamContext
) -> AsyncIterator[Admin]:
    # interval 0: the tests drive the job themselves, one evaluation at a time.
    settings = admin_settings(
        nats_url, migrated_database_url, alerts=AlertSettings(interval_seconds=0)
    )
    async with serve_admin(settings) as (app, client):
        yield Admin(app, client)


@pytest.fixture
async def org(admin: Admin, sessions: async_sessionmaker[AsyncSession]) -> Org:
    return await create_signed_in_org(admin.client, sessions)


@pytest.fixture
async def account(org: Org, sessions: async_sessionmaker[AsyncSession]) -> EbayAccount:
    async with sessions.begin() as session:
        return await create_account(session, org_id=org.id)
