"""The alert job on real PostgreSQL and NATS: woken by a failed run in the API process, quota near
its limit from the fetchers' ledger, two replicas sending one notice, breaker pauses and consent
ending, and no secret in any log line of a failing channel."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.alerts.channels import SecretBox
from admin_api.alerts.delivery import Sender
from admin_api.alerts.job import AlertJob
from admin_api.settings import AlertSettings
from common.breaker import BreakerSettings
from common.db.accounts import EbayAccount
from common.db.tokens import EbayToken
from common.families import Family
from common.ledger import quota_day
from common.messages import WindowFailed, encoded
from common.streams import BUCKETS
from testkit.admin import JWT_SECRET, Org, admin_settings, create_signed_in_org, serve_admin
from testkit.alerts import (
    HOOK_SECRET,
    SECRETS,
    Admin,
    Hooks,
    Mailbox,
    create_channels,
    create_rule,
    email_settings,
    recorder,
)
from testkit.factories import create_account
from writer.deadletters import FailureRecorder

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


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
