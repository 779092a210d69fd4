"""The alert tests' harness (services/admin-api/tests/alerts): the SMTP mailbox and webhook
receiver they serve, the admin API with its alert job, channels and rules made through the API,
failed runs to record, and the webhook signature check."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.alerts.job import AlertJob
from common.breaker import BreakerSettings
from common.db.accounts import User
from common.families import Family
from common.messages import SyncWindow, Trigger
from testkit.admin import Org
from writer.deadletters import FailureRecorder

SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "smtp-password-" + uuid.uuid4().hex
HOOK_SECRET = "hook-secret-" + uuid.uuid4().hex
SECRETS = (SMTP_PASSWORD, HOOK_SECRET)


@dataclass
class Mailbox:
    """What the local SMTP server received: (envelope recipients, parsed message)."""

    messages: list[tuple[list[str], Any]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        ok = data.login.decode() == SMTP_USER and data.password.decode() == SMTP_PASSWORD
        return AuthResult(success=ok, handled=False)

    def to(self, address: str) -> list[Any]:
        return [m for rcpt, m in self.messages if address in rcpt]


@dataclass
class Hooks:
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@dataclass
class Admin:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def job(self) -> AlertJob:
        job: AlertJob = self.app.state.alert_job
        return job


def email_settings(port: int, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "email",
        "host": "127.0.0.1",
        "port": port,
        "tls_mode": "none",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "from_address": "ebaysync@example.com",
        **overrides,
    }


async def create_channels(
    client: httpx.AsyncClient, org: Org, smtp_port: int, hook: str
) -> list[int]:
    email = await client.post(
        "/api/notifications/channels",
        headers=org.admin,
        json={"name": "ops mail", "settings": email_settings(smtp_port)},
    )
    assert email.status_code == 201, email.text
    webhook = await client.post(
        "/api/notifications/channels",
        headers=org.admin,
        json={"name": "hook", "settings": {"kind": "webhook", "url": hook, "secret": HOOK_SECRET}},
    )
    assert webhook.status_code == 201, webhook.text
    return [email.json()["id"], webhook.json()["id"]]


async def create_rule(
    client: httpx.AsyncClient, org: Org, kind: str, channels: list[int], **extra: Any
) -> int:
    response = await client.post(
        "/api/notifications/rules",
        headers=org.admin,
        json={"name": f"{kind} rule", "kind": kind, "channel_ids": channels, **extra},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def org_users(sessions: async_sessionmaker[AsyncSession], org_id: int) -> dict[str, User]:
    async with sessions() as session:
        users = (await session.scalars(select(User).where(User.org_id == org_id))).all()
    return {u.role: u for u in users}


def run(account_id: int) -> SyncWindow:
    now = datetime.now(UTC)
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(hours=1),
        window_to=now - timedelta(minutes=5),
        trigger=Trigger.SCHEDULE,
        issued_at=now,
    )


def recorder(sessions: async_sessionmaker[AsyncSession]) -> FailureRecorder:
    return FailureRecorder(sessions, lambda: datetime.now(UTC), BreakerSettings(threshold=100))


def verify_signature(headers: dict[str, str], body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in headers["x-ebaysync-signature"].split(","))
    expected = hmac.new(HOOK_SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(fields["v1"], expected.hexdigest())
