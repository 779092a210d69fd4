"""Sign-in, tokens, roles, users, and the first admin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from admin_api.bootstrap import bootstrap_admin
from admin_api.security import issue_login_token, issue_state
from common.db.accounts import User
from common.db.migrate import upgrade_async
from testkit import admin_fixtures
from testkit.admin import (
    JWT_SECRET,
    PASSWORD,
    Org,
    admin_settings,
    create_signed_in_org,
    create_user,
    serve_admin,
    sign_in,
)
from testkit.factories import create_org
from testkit.servers import DatabaseServer, unique_database_name

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

org = admin_fixtures.org


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (_, client):
        yield client


class TestSignIn:
    async def test_the_right_password_gives_a_token_and_who_you_are(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessions.begin() as session:
            org = await create_org(session)
            user = await create_user(session, org.id, "operator")
        response = await client.post(
            "/api/auth/login", json={"email": user.email.upper(), "password": PASSWORD}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["user"]["role"] == "operator" and body["user"]["org_name"] == org.name
        me = await client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.json()["email"] == user.email

    @pytest.mark.parametrize("password", ["wrong password", ""])
    async def test_a_wrong_password_is_a_401(
        self, client: httpx.AsyncClient, org: Org, password: str
    ) -> None:
        response = await client.post(
            "/api/auth/login", json={"email": org.admin_user.email, "password": password}
        )
        assert response.status_code in (401, 422)

    async def test_an_unknown_email_reads_like_a_wrong_password(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
        )
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong email or password"}

    async def test_a_deactivated_user_cannot_sign_in_or_use_an_old_token(
        self, client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessions.begin() as session:
            user = await create_user(session, org.id, "viewer")
        headers = await sign_in(client, user.email)
        async with sessions.begin() as session:
            (await session.get(User, user.id)).active = False  # type: ignore[union-attr]
        assert (await client.get("/api/accounts", headers=headers)).status_code == 401
        response = await client.post(
            "/api/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 401


class TestTokens:
    async def test_no_token_is_a_401_with_a_bearer_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/accounts")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_expired_token_is_a_401(self, client: httpx.AsyncClient, org: Org) -> None:
        user = org.admin_user
        token = issue_login_token(
            JWT_SECRET,
            user.id,
            user.org_id,
            datetime.now(UTC) - timedelta(days=2),
            timedelta(hours=1),
        )
        response = await client.get("/api/accounts", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]

    async def test_a_token_signed_with_another_secret_is_a_401(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        user = org.admin_user
        token = issue_login_token(
            SecretStr("another-secret-of-at-least-32-chars!"),
            user.id,
            user.org_id,
            datetime.now(UTC),
            timedelta(hours=1),
        )
        response = await client.get("/api/accounts", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    async def test_an_oauth_state_is_no_login_token(self, client: httpx.AsyncClient) -> None:
        state = issue_state(JWT_SECRET, "nonce", datetime.now(UTC) + timedelta(minutes=5))
        response = await client.get("/api/accounts", headers={"Authorization": f"Bearer {state}"})
        assert response.status_code == 401


class TestUsers:
    async def test_an_admin_adds_a_user_who_can_then_sign_in(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        email = f"new-{uuid.uuid4().hex[:8]}@example.com"
        created = await client.post(
            "/api/users",
            headers=org.admin,
            json={"email": email, "password": "a long enough password", "role": "viewer"},
        )
        assert created.status_code == 201
        assert created.json()["org_id"] == org.id
        assert "password" not in created.text and "hash" not in created.text
        assert await sign_in(client, email, "a long enough password")
        listed = (await client.get("/api/users", headers=org.admin)).json()
        assert email in [u["email"] for u in listed]

    @pytest.mark.parametrize("whose", ["own org", "another org"])
    async def test_an_email_in_use_reads_like_any_other_validation_error(
        self,
        client: httpx.AsyncClient,
        org: Org,
        sessions: async_sessionmaker[AsyncSession],
        whose: str,
    ) -> None:
        taken = (
            org.admin_user.email
            if whose == "own org"
            else (await create_signed_in_org(client, sessions)).admin_user.email
        )
        body = {"email": taken, "password": "a long enough password", "role": "admin"}
        response = await client.post("/api/users", headers=org.admin, json=body)
        invalid = await client.post(
            "/api/users", headers=org.admin, json={**body, "email": "not an email"}
        )
        assert response.status_code == invalid.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "email"] and error["type"] == "value_error"
        assert "already" not in response.text and "exists" not in response.text
        # Shaped like FastAPI's own validation errors, wherever the email is used.
        assert {"type", "loc", "msg", "input"} <= set(invalid.json()["detail"][0]) & set(error)

    @pytest.mark.parametrize("role", ["viewer", "operator"])
    async def test_only_admins_manage_users(
        self, client: httpx.AsyncClient, org: Org, role: str
    ) -> None:
        headers = org.viewer if role == "viewer" else org.operator
        assert (await client.get("/api/users", headers=headers)).status_code == 403
        response = await client.post(
            "/api/users",
            headers=headers,
            json={"email": "x@example.com", "password": "a long enough password", "role": "admin"},
        )
        assert response.status_code == 403
        assert response.json() == {"detail": "needs the admin role"}

    async def test_a_demoted_user_loses_the_role_at_once(
        self, client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessions.begin() as session:
            user = await create_user(session, org.id, "admin")
        headers = await sign_in(client, user.email)
        response = await client.patch(
            f"/api/users/{user.id}", headers=org.admin, json={"role": "viewer"}
        )
        assert response.json()["role"] == "viewer"
        assert (await client.get("/api/users", headers=headers)).status_code == 403

    async def test_another_orgs_user_is_a_404(
        self, client: httpx.AsyncClient, org: Org, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        other = await create_signed_in_org(client, sessions)
        response = await client.patch(
            f"/api/users/{other.admin_user.id}", headers=org.admin, json={"active": False}
        )
        assert response.status_code == 404

    async def test_an_admin_cannot_lock_themself_out(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        response = await client.patch(
            f"/api/users/{org.admin_user.id}", headers=org.admin, json={"active": False}
        )
        assert response.status_code == 409


async def test_the_first_admin_is_created_once_when_no_user_exists(
    database_server: DatabaseServer, nats_url: str
) -> None:
    url = await database_server.acreate_database(unique_database_name("bootstrap"))
    await upgrade_async(url)
    settings = admin_settings(
        nats_url,
        url,
        bootstrap_admin_email="boss@example.com",
        bootstrap_admin_password=SecretStr("demo-password-1"),
        bootstrap_org="demo",
    )
    async with serve_admin(settings) as (_, client):
        assert await sign_in(client, "boss@example.com", "demo-password-1")
        me = await client.get(
            "/api/auth/me", headers=await sign_in(client, "boss@example.com", "demo-password-1")
        )
        assert me.json()["role"] == "admin" and me.json()["org_name"] == "demo"
    engine = create_async_engine(url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        assert not await bootstrap_admin(sessions, settings)
        async with sessions() as session:
            assert len((await session.scalars(select(User))).all()) == 1
    finally:
        await engine.dispose()
