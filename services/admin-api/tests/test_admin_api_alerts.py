"""Notifications to people on real PostgreSQL and NATS, a real SMTP server (aiosmtpd) and a real
HTTP receiver: one notice per failing pair however many runs fail, one recovered notice, each
user's own toggle, org isolation, signed webhooks, and no secret in any response or log line."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from embedded_servers import find_free_port
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from admin_api.alerts.channels import SecretBox
from admin_api.alerts.delivery import Sender
from admin_api.alerts.job import AlertJob
from admin_api.settings import AlertSettings
from common.breaker import BreakerSettings
from common.db.accounts import EbayAccount, User
from common.db.alerts import AlertChannel
from common.db.sync import SyncRepository
from common.db.tokens import EbayToken
from common.families import Family
from common.ledger import quota_day
from common.messages import SyncWindow, Trigger, WindowFailed, encoded
from common.streams import BUCKETS
from testkit.admin import JWT_SECRET, Org, admin_settings, create_signed_in_org, serve_admin
from testkit.factories import create_account
from writer.deadletters import FailureRecorder

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

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


@dataclass
class Hooks:
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Hooks, str]]:
    hooks = Hooks()

    async def receive(request: Request) -> Response:
        hooks.received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", receive, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    try:
        yield hooks, f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        await task


@dataclass
class Admin:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def job(self) -> AlertJob:
        job: AlertJob = self.app.state.alert_job
        return job


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


class TestChannels:
    async def test_crud_is_admin_only_and_never_returns_a_secret(
        self,
        admin: Admin,
        org: Org,
        mailbox: tuple[Mailbox, int],
        receiver: tuple[Hooks, str],
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        client = admin.client
        for headers in (org.viewer, org.operator):
            refused = await client.get("/api/notifications/channels", headers=headers)
            assert refused.status_code == 403
        email_id, hook_id = await create_channels(client, org, mailbox[1], receiver[1])
        listed = await client.get("/api/notifications/channels", headers=org.admin)
        assert [c["secret_set"] for c in listed.json()] == [True, True]
        assert listed.json()[0]["settings"] == {
            "host": "127.0.0.1",
            "port": mailbox[1],
            "tls_mode": "none",
            "username": SMTP_USER,
            "from_address": "ebaysync@example.com",
        }
        # A patch without the password keeps it; "" removes it.
        kept = await client.patch(
            f"/api/notifications/channels/{email_id}",
            headers=org.admin,
            json={"settings": {**email_settings(mailbox[1]), "password": None}},
        )
        assert kept.json()["secret_set"] is True
        removed = await client.patch(
            f"/api/notifications/channels/{hook_id}",
            headers=org.admin,
            json={"settings": {"kind": "webhook", "url": receiver[1], "secret": ""}},
        )
        assert removed.json()["secret_set"] is False
        bodies = [listed.text, kept.text, removed.text]
        bodies.append(
            (await client.get(f"/api/notifications/channels/{email_id}", headers=org.admin)).text
        )
        for body in bodies:
            for secret in SECRETS:
                assert secret not in body
        # Stored encrypted, not as written.
        async with sessions() as session:
            stored = await session.scalar(
                select(AlertChannel.secret).where(AlertChannel.id == email_id)
            )
        assert stored and SMTP_PASSWORD not in stored
        deleted = await client.delete(f"/api/notifications/channels/{hook_id}", headers=org.admin)
        assert deleted.status_code == 204
        assert len((await client.get("/api/notifications/channels", headers=org.admin)).json()) == 1

    async def test_test_sends_an_email_to_the_admin_and_a_signed_webhook(
        self,
        admin: Admin,
        org: Org,
        mailbox: tuple[Mailbox, int],
        receiver: tuple[Hooks, str],
    ) -> None:
        box, port = mailbox
        hooks, url = receiver
        email_id, hook_id = await create_channels(admin.client, org, port, url)
        sent = await admin.client.post(
            f"/api/notifications/channels/{email_id}/test", headers=org.admin
        )
        assert sent.json() == {"delivered": True, "error": None}
        assert box.logins == [(SMTP_USER, SMTP_PASSWORD)]
        [message] = box.to(org.admin_user.email)
        assert message["Subject"].startswith("[ebaysync] Test of channel")
        hooked = await admin.client.post(
            f"/api/notifications/channels/{hook_id}/test", headers=org.admin
        )
        assert hooked.json()["delivered"] is True
        [(headers, body)] = hooks.received
        assert verify_signature(headers, body)
        assert json.loads(body)["event"] == "test"
        # A wrong password is reported by SMTP reply code, without any secret.
        await admin.client.patch(
            f"/api/notifications/channels/{email_id}",
            headers=org.admin,
            json={"settings": email_settings(port, password="wrong-" + HOOK_SECRET)},
        )
        refused = await admin.client.post(
            f"/api/notifications/channels/{email_id}/test", headers=org.admin
        )
        assert refused.json()["delivered"] is False
        assert "535" in refused.json()["error"] and HOOK_SECRET not in refused.text


class TestDedup:
    async def test_many_failing_runs_send_one_notice_then_one_recovered(
        self,
        admin: Admin,
        org: Org,
        account: EbayAccount,
        mailbox: tuple[Mailbox, int],
        receiver: tuple[Hooks, str],
        sessions: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        box, port = mailbox
        hooks, url = receiver
        channels = await create_channels(admin.client, org, port, url)
        rule_id = await create_rule(admin.client, org, "pair_failing", channels)
        users = await org_users(sessions, org.id)
        # The viewer opts out of this rule: their toggle, nobody else's.
        toggled = await admin.client.put(
            f"/api/notifications/rules/{rule_id}/subscription",
            headers=org.viewer,
            json={"subscribed": False},
        )
        assert toggled.json()["subscribed"] is False
        mine = await admin.client.get(f"/api/notifications/rules/{rule_id}", headers=org.admin)
        assert mine.json()["subscribed"] is True

        failures = recorder(sessions)
        for attempt in range(1, 8):
            window = run(account.id)
            await failures.attempt_failed(
                WindowFailed(
                    run_id=window.run_id,
                    account_id=account.id,
                    family=Family.ORDERS,
                    attempt=attempt,
                    error="HTTP 500 from eBay",
                    failed_at=datetime.now(UTC),
                )
            )
            await admin.job.run_once()

        assert len(box.to(users["admin"].email)) == 1
        assert len(box.to(users["operator"].email)) == 1
        assert box.to(users["viewer"].email) == []
        [opened] = box.to(users["admin"].email)
        assert account.house_name in opened["Subject"] and "failing" in opened["Subject"]
        assert len(hooks.received) == 1
        assert verify_signature(*hooks.received[0])
        assert json.loads(hooks.received[0][1])["event"] == "opened"
        alerts = (await admin.client.get("/api/notifications/alerts", headers=org.viewer)).json()
        assert [(a["subject"], a["notices_sent"]) for a in alerts] == [
            (f"pair:{account.id}:orders", 3)
        ]

        # The pair recovers: one recovered notice, then silence.
        async with sessions.begin() as session:
            await SyncRepository(session).complete_run(run(account.id))
        for _ in range(3):
            await admin.job.run_once()
        assert len(box.to(users["admin"].email)) == 2
        assert box.to(users["admin"].email)[1]["Subject"].startswith("[ebaysync] Recovered:")
        assert [json.loads(b)["event"] for _, b in hooks.received] == ["opened", "recovered"]
        assert (
            await admin.client.get("/api/notifications/alerts", headers=org.viewer)
        ).json() == []

        for secret in SECRETS:
            assert secret not in caplog.text

    async def test_needs_reauth_notifies_once_and_another_org_hears_nothing(
        self,
        admin: Admin,
        org: Org,
        account: EbayAccount,
        mailbox: tuple[Mailbox, int],
        receiver: tuple[Hooks, str],
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        box, port = mailbox
        hooks, url = receiver
        other = await create_signed_in_org(admin.client, sessions)
        other_hooks_url = url + "?org=other"
        other_channel = await admin.client.post(
            "/api/notifications/channels",
            headers=other.admin,
            json={"name": "theirs", "settings": {"kind": "webhook", "url": other_hooks_url}},
        )
        other_id = other_channel.json()["id"]
        await create_rule(admin.client, other, "needs_reauth", [other_id])
        channels = await create_channels(admin.client, org, port, url)
        await create_rule(admin.client, org, "needs_reauth", channels, notify_recovered=False)

        # Org isolation in the API: another org's channel does not exist for this org.
        for method, path in (
            ("GET", f"/api/notifications/channels/{other_id}"),
            ("PATCH", f"/api/notifications/channels/{other_id}"),
            ("POST", f"/api/notifications/channels/{other_id}/test"),
            ("DELETE", f"/api/notifications/channels/{other_id}"),
        ):
            body = {"enabled": False} if method == "PATCH" else None
            answer = await admin.client.request(method, path, headers=org.admin, json=body)
            assert answer.status_code == 404, (method, path)
        stolen = await admin.client.post(
            "/api/notifications/rules",
            headers=org.admin,
            json={"name": "x", "kind": "pair_failing", "channel_ids": [other_id]},
        )
        assert stolen.status_code == 422

        async with sessions.begin() as session:
            await session.execute(
                text("UPDATE ebay_accounts SET needs_reauth = true WHERE id = :id"),
                {"id": account.id},
            )
        for _ in range(3):
            await admin.job.run_once()
        users = await org_users(sessions, org.id)
        assert len(box.to(users["admin"].email)) == 1
        assert "must be reconnected" in box.to(users["admin"].email)[0]["Subject"]
        # Only this org's webhook: the other org's rule saw none of this org's accounts.
        assert [json.loads(b)["org_id"] for _, b in hooks.received] == [org.id]
        other_users = await org_users(sessions, other.id)
        assert box.to(other_users["admin"].email) == []
        async with sessions.begin() as session:
            await session.execute(
                text("UPDATE ebay_accounts SET needs_reauth = false WHERE id = :id"),
                {"id": account.id},
            )
        await admin.job.run_once()
        # notify_recovered off: the alert closes quietly.
        assert len(box.to(users["admin"].email)) == 1
        assert len(hooks.received) == 1


async def test_a_failed_run_event_wakes_the_job_in_the_api_process(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    nats_client: NatsClient,
    sessions: async_sessionmaker[AsyncSession],
    receiver: tuple[Hooks, str],
) -> None:
    hooks, url = receiver
    # An hour between evaluations: only the run event can explain a prompt notice.
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        alerts=AlertSettings(interval_seconds=3600, settle_seconds=0.1),
    )
    async with serve_admin(settings) as (_, client):
        org = await create_signed_in_org(client, sessions)
        async with sessions.begin() as session:
            account = await create_account(session, org_id=org.id)
        channel = await client.post(
            "/api/notifications/channels",
            headers=org.admin,
            json={"name": "hook", "settings": {"kind": "webhook", "url": url}},
        )
        await create_rule(client, org, "pair_failing", [channel.json()["id"]])
        await asyncio.sleep(0.3)  # the first evaluation at start-up found nothing
        event = WindowFailed(
            run_id=uuid.uuid4(),
            account_id=account.id,
            family=Family.ORDERS,
            attempt=1,
            error="HTTP 503",
            failed_at=datetime.now(UTC),
        )
        await recorder(sessions).attempt_failed(event)
        await nats_client.publish(event.subject, encoded(event))
        for _ in range(100):
            if hooks.received:
                break
            await asyncio.sleep(0.05)
        assert len(hooks.received) == 1
        assert json.loads(hooks.received[0][1])["subject"] == f"pair:{account.id}:orders"


async def test_quota_near_its_limit_notifies_once_from_the_fetchers_ledger(
    admin: Admin,
    org: Org,
    receiver: tuple[Hooks, str],
    topology: JetStreamContext,
) -> None:
    hooks, url = receiver
    channel = await admin.client.post(
        "/api/notifications/channels",
        headers=org.admin,
        json={"name": "hook", "settings": {"kind": "webhook", "url": url}},
    )
    await create_rule(admin.client, org, "quota_near_limit", [channel.json()["id"]])
    kv = await topology.key_value(BUCKETS.call_ledger.bucket)
    day = quota_day(datetime.now(UTC)).isoformat()
    # Trading's default quota is 5,000 calls a day; the rule's default share is 80 %.
    await kv.put(f"{day}.trading.total", b"3999")
    await admin.job.run_once()
    assert hooks.received == []
    await kv.put(f"{day}.trading.total", b"4100")
    for _ in range(3):
        await admin.job.run_once()
    [(_, body)] = hooks.received
    notice = json.loads(body)
    assert notice["subject"] == "api:trading" and "4100 of 5000" in notice["text"]


async def test_two_replicas_evaluating_at_once_send_one_notice(
    admin: Admin,
    org: Org,
    account: EbayAccount,
    receiver: tuple[Hooks, str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hooks, url = receiver
    channel = await admin.client.post(
        "/api/notifications/channels",
        headers=org.admin,
        json={"name": "hook", "settings": {"kind": "webhook", "url": url}},
    )
    await create_rule(admin.client, org, "needs_reauth", [channel.json()["id"]])
    async with sessions.begin() as session:
        await session.execute(
            text("UPDATE ebay_accounts SET needs_reauth = true WHERE id = :id"), {"id": account.id}
        )
    async with httpx.AsyncClient() as http:
        replicas = [
            AlertJob(
                sessions,
                Sender(http, SecretBox(JWT_SECRET), 5.0),
                AlertSettings(interval_seconds=0),
                lambda: datetime.now(UTC),
            )
            for _ in range(4)
        ]
        await asyncio.gather(*(job.run_once() for job in replicas))
        await asyncio.gather(*(job.run_once() for job in replicas))
    assert len(hooks.received) == 1


async def test_breaker_pause_and_consent_ending_notify_and_a_failing_channel_logs_no_secret(
    admin: Admin,
    org: Org,
    account: EbayAccount,
    mailbox: tuple[Mailbox, int],
    receiver: tuple[Hooks, str],
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    box, port = mailbox
    hooks, url = receiver
    _, hook_id = await create_channels(admin.client, org, port, url)
    wrong = await admin.client.post(
        "/api/notifications/channels",
        headers=org.admin,
        json={"name": "bad mail", "settings": email_settings(port, password=HOOK_SECRET)},
    )
    await create_rule(admin.client, org, "pair_paused", [hook_id, wrong.json()["id"]])
    await create_rule(admin.client, org, "consent_ending", [hook_id])

    # The writer's own breaker: two failures in a row pause the pair.
    breaker = FailureRecorder(
        sessions, lambda: datetime.now(UTC), BreakerSettings(threshold=2, base_seconds=600)
    )
    for attempt in (1, 2):
        await breaker.attempt_failed(
            WindowFailed(
                run_id=uuid.uuid4(),
                account_id=account.id,
                family=Family.ORDERS,
                attempt=attempt,
                error="HTTP 500",
                failed_at=datetime.now(UTC),
            )
        )
    async with sessions.begin() as session:
        session.add(
            EbayToken(
                account_id=account.id,
                key_id="k1",
                refresh_token_ciphertext=b"x",
                refresh_token_expires_at=datetime.now(UTC) + timedelta(days=5),
                scopes="",
                updated_at=datetime.now(UTC),
            )
        )
    for _ in range(AlertSettings().max_attempts + 1):
        await admin.job.run_once()

    events = sorted(json.loads(b)["rule"] for _, b in hooks.received)
    assert events == ["consent_ending", "pair_paused"]
    alerts = (await admin.client.get("/api/notifications/alerts", headers=org.viewer)).json()
    paused = next(a for a in alerts if a["subject"] == f"pair:{account.id}:orders")
    # The webhook got it; each of the three users' emails was refused, tried, then given up.
    assert (paused["notices_sent"], paused["notices_failed"], paused["notices_pending"]) == (
        1,
        3,
        0,
    )
    assert box.messages == []
    assert "SMTP server refused: 535" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text
