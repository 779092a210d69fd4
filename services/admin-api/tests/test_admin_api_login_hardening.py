"""Sign-in throttling, the password policy and token revocation (issue 16 finding 5)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.passwords import password_problem
from testkit.admin import (
    PASSWORD,
    Org,
    admin_settings,
    create_signed_in_org,
    create_user,
    serve_admin,
    sign_in,
)
from testkit.factories import create_org

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

PER_EMAIL, PER_ADDRESS = 3, 6


@pytest.fixture
async def app(migrated_database_url: str, nats_url: str) -> AsyncIterator[FastAPI]:
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        login_max_failures_per_email=PER_EMAIL,
        login_max_failures_per_address=PER_ADDRESS,
    )
    async with serve_admin(settings) as (app, _):
        yield app


@asynccontextmanager
async def client_from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that the API sees coming from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


def fresh_address() -> str:
    # Unique per test: the throttle counts live in the session's shared database.
    return f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def new_user(sessions: async_sessionmaker[AsyncSession], role: str = "viewer") -> str:
    async with sessions.begin() as session:
        org = await create_org(session)
        return (await create_user(session, org.id, role)).email


class TestThrottling:
    async def test_an_email_is_throttled_after_n_failures_even_with_the_right_password(
        self, app: FastAPI, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        email = await new_user(sessions)
        async with client_from(app, fresh_address()) as client:
            for _ in range(PER_EMAIL):
                assert (await login(client, email, "wrong password")).status_code == 401
            refused = await login(client, email, PASSWORD)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 900
        # From another address too: the count is the email's.
        async with client_from(app, fresh_address()) as elsewhere:
            assert (await login(elsewhere, email, PASSWORD)).status_code == 429

    async def test_an_unknown_email_is_throttled_like_a_known_one(self, app: FastAPI) -> None:
        email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        async with client_from(app, fresh_address()) as client:
            statuses = [(await login(client, email, "wrong")).status_code for _ in range(4)]
        assert statuses == [401] * PER_EMAIL + [429]

    async def test_an_address_is_throttled_after_n_failures_across_emails(
        self, app: FastAPI, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        email = await new_user(sessions)
        address = fresh_address()
        async with client_from(app, address) as client:
            for n in range(PER_ADDRESS):
                response = await login(client, f"guess-{n}-{uuid.uuid4().hex[:6]}@x.com", "pw")
                assert response.status_code == 401
            assert (await login(client, email, PASSWORD)).status_code == 429
        async with client_from(app, fresh_address()) as other:
            assert (await login(other, email, PASSWORD)).status_code == 200

    async def test_a_success_clears_the_emails_count(
        self, app: FastAPI, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        email = await new_user(sessions)
        async with client_from(app, fresh_address()) as client:
            for _ in range(2):
                for _ in range(PER_EMAIL - 1):
                    assert (await login(client, email, "wrong password")).status_code == 401
                assert (await login(client, email, PASSWORD)).status_code == 200


WEAK = [
    "          ",  # ten spaces
    "\t\t\t\t\t\t\t\t\t\t\t\t",
    "aaaaaaaaaaaa",
    "abababababab",
    "password1234",
    "Password123!",
    "qwertyuiop12",
    "1234567890",
    "iloveyou2024",
]


@pytest.mark.parametrize("password", WEAK)
def test_weak_passwords_are_refused_by_the_policy(password: str) -> None:
    assert password_problem(password) is not None


def test_the_users_own_email_counts_as_guessable() -> None:
    assert password_problem("margarethamilton", ["margarethamilton@example.com"]) is not None


@pytest.mark.parametrize("password", [PASSWORD, "a long enough password", "vX7#qL2!mZ9p"])
def test_strong_passwords_pass(password: str) -> None:
    assert password_problem(password) is None


class TestPasswordsAndTokens:
    @pytest.fixture
    async def client(self, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with client_from(app, fresh_address()) as client:
            yield client

    @pytest.fixture
    async def org(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> Org:
        return await create_signed_in_org(client, sessions)

    @pytest.mark.parametrize("password", ["          ", "password1234", "aaaaaaaaaaaa"])
    async def test_weak_passwords_are_refused_on_create_and_change(
        self, client: httpx.AsyncClient, org: Org, password: str
    ) -> None:
        email = f"weak-{uuid.uuid4().hex[:8]}@example.com"
        created = await client.post(
            "/api/users",
            headers=org.admin,
            json={"email": email, "password": password, "role": "viewer"},
        )
        assert created.status_code == 422
        assert created.json()["detail"][0]["loc"] == ["body", "password"]
        changed = await client.patch(
            f"/api/users/{org.admin_user.id}", headers=org.admin, json={"password": password}
        )
        assert changed.status_code == 422

    async def test_a_password_change_revokes_the_old_tokens(
        self, client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessions.begin() as session:
            user = await create_user(session, org.id, "viewer")
        old = await sign_in(client, user.email)
        assert (await client.get("/api/auth/me", headers=old)).status_code == 200
        changed = await client.patch(
            f"/api/users/{user.id}", headers=org.admin, json={"password": "a brand new passphrase"}
        )
        assert changed.status_code == 200
        refused = await client.get("/api/auth/me", headers=old)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert (await login(client, user.email, PASSWORD)).status_code == 401
        new = await sign_in(client, user.email, "a brand new passphrase")
        assert (await client.get("/api/auth/me", headers=new)).status_code == 200

    async def test_logout_revokes_the_token(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        email = await new_user(sessions)
        first, second = await sign_in(client, email), await sign_in(client, email)
        assert (await client.post("/api/auth/logout", headers=first)).status_code == 204
        for headers in (first, second):  # every session of the user ends
            assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
        assert (await client.post("/api/auth/logout", headers=first)).status_code == 401
        again = await sign_in(client, email)
        assert (await client.get("/api/auth/me", headers=again)).status_code == 200
