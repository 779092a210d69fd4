"""Helpers for admin API tests: settings, users of each role, a signed-in HTTP client.

Import explicitly (``from testkit.admin import ...``); nothing here is a pytest plugin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.app import create_app
from admin_api.security import hash_password, issue_login_token
from admin_api.settings import AdminApiSettings, AlertSettings
from common.db.accounts import User
from common.settings import NatsSettings, PostgresSettings
from testkit.factories import create_org
from testkit.sandbox import serve_asgi

JWT_SECRET = SecretStr("test-only-jwt-secret-0123456789abcdef")
PASSWORD = "correct horse battery staple"
# Hashing is slow on purpose; tests reuse one hash of the one password.
_HASH: list[str] = []


def admin_settings(nats_url: str, database_url: str, **overrides: Any) -> AdminApiSettings:
    values: dict[str, Any] = {
        "nats": NatsSettings(url=nats_url),
        "database": PostgresSettings(url=SecretStr(database_url)),
        "jwt_secret": JWT_SECRET,
        "live_poll_seconds": 0.2,
        # Every in-process client signs in from 127.0.0.1 and the database is shared by the
        # session: unrelated tests' wrong passwords must not throttle each other. The
        # throttling tests set their own limits and addresses.
        "login_max_failures_per_address": 10_000,
        # The alert job stays off unless a test runs it: rules other tests left in the shared
        # database must not send from every app.
        "alerts": AlertSettings(interval_seconds=0),
    }
    values.update(overrides)
    return AdminApiSettings(**values)


async def create_user(
    session: AsyncSession, org_id: int, role: str = "admin", **overrides: Any
) -> User:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    values: dict[str, Any] = {
        "org_id": org_id,
        "email": f"{role}-{uuid.uuid4().hex[:10]}@example.com",
        "password_hash": _HASH[0],
        "role": role,
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.flush()
    return user


@dataclass
class Org:
    """An org with one user of each role, each with the headers that sign them in."""

    id: int
    admin: dict[str, str]
    operator: dict[str, str]
    viewer: dict[str, str]
    admin_user: User


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def create_signed_in_org(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    admin_email: str | None = None,
) -> Org:
    """An org with a user of each role, signed in with tokens minted as login does (Argon2 is
    slow on purpose; the sign-in itself has tests of its own)."""
    async with sessions.begin() as session:
        org = await create_org(session)
        users = {
            role: await create_user(
                session,
                org.id,
                role,
                **({"email": admin_email} if admin_email and role == "admin" else {}),
            )
            for role in ROLES
        }
    return Org(
        id=org.id,
        admin=bearer(users["admin"]),
        operator=bearer(users["operator"]),
        viewer=bearer(users["viewer"]),
        admin_user=users["admin"],
    )


def bearer(user: User) -> dict[str, str]:
    token = issue_login_token(
        JWT_SECRET, user.id, user.org_id, datetime.now(UTC), timedelta(hours=1), user.token_version
    )
    return {"Authorization": f"Bearer {token}"}


ROLES = ("admin", "operator", "viewer")


@asynccontextmanager
async def serve_admin(
    settings: AdminApiSettings, tracer_provider: TracerProvider | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan running, and an in-process client for it."""
    app = create_app(settings, tracer_provider)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            yield app, client


@asynccontextmanager
async def serve_admin_http(
    settings: AdminApiSettings, *, port: int | None = None
) -> AsyncIterator[str]:
    """The app over real HTTP on loopback (streams need it, and eBay's challenge a known public
    URL: pass ``port``); yields its base URL."""
    async with serve_asgi(create_app(settings), port=port) as url:
        yield url


def find_or_install_chromium() -> str | None:
    """Debian's chromium for browser tests, installed with apt when missing (as root);
    None when it cannot be had. ``playwright install`` cannot download browsers here."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        subprocess.run(command, check=True, env=env, capture_output=True, timeout=900)
    return shutil.which("chromium")
