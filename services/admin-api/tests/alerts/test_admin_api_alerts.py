"""Notifications to people on real PostgreSQL and NATS, a real SMTP server (aiosmtpd) and a real
HTTP receiver: channels (admin only, never a secret), one notice per failing pair however many
runs fail, one recovered notice, each user's own toggle, org isolation, signed webhooks. The job
in the API process, quota, replicas, breaker and consent: test_admin_api_alerts_job."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.alerts import AlertChannel
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import WindowFailed
from testkit.admin import Org, create_signed_in_org
from testkit.alerts import (
    HOOK_SECRET,
    SECRETS,
    SMTP_PASSWORD,
    SMTP_USER,
    Admin,
    Hooks,
    Mailbox,
    create_channels,
    create_rule,
    email_settings,
    org_users,
    recorder,
    run,
    verify_signature,
)

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


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
