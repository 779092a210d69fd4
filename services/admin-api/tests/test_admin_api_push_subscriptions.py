"""The subscriptions job against the eBay sandbox over HTTP, the real token service, NATS and
a PostgreSQL database of its own: the destination (eBay's challenge answered by the ingress)
and the subscriptions are created, repaired when eBay disables or loses one, removed when the
account is deactivated; a consent lacking a scope shows why instead of failing. And the
admin API's push payloads."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from embedded_servers import find_free_port
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from admin_api.commands import request_access_token
from admin_api.push_subscriptions import SubscriptionManager
from admin_api.settings import PushSettings
from common.clock import utc_now
from common.db.accounts import EbayAccount
from common.db.migrate import upgrade
from common.db.push import PushDestination, PushSubscription, ReceivedNotification
from common.ebay.scopes import SCOPE_STRING
from common.messages import AccessTokenReply, ConnectAccount, ConnectAccountReply
from common.push import PUSH_SCOPES, REST_TOPICS, TRADING_TOPIC, TopicScope
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from testkit.admin import admin_settings, create_signed_in_org, serve_admin_http
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from testkit.servers import DatabaseServer, unique_database_name
from testkit.token_service import running_token_service, sandbox_ebay

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CLIENT_ID, CLIENT_SECRET, RU_NAME = "push-SBX-client", "push-secret", "push-RuName"
TOKEN = "push-subscriptions-verification-token-0001"
USER_TOPICS = sorted(n for n, t in REST_TOPICS.items() if t.scope is TopicScope.USER)
APP_TOPICS = sorted(n for n, t in REST_TOPICS.items() if t.scope is TopicScope.APPLICATION)
MESSAGE_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.message"


@dataclass
class Env:
    manager: SubscriptionManager
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    admin: httpx.AsyncClient
    broker: NatsBroker
    sellers: list[dict[str, Any]]
    headers: dict[str, str]
    org_id: int
    later: Callable[[], SubscriptionManager]  # the job's manager once the recheck is due

    async def endpoint_calls(self) -> Counter[str]:
        """The sandbox's calls so far, by endpoint."""
        return Counter((await self.sandbox.get("/sandbox/stats")).json()["endpoints"])

    async def connect(self, seller: dict[str, Any], scopes: str) -> int:
        async with self.sessions.begin() as session:
            account = await create_account(
                session,
                org_id=self.org_id,
                username=seller["username"],
                ebay_user_id=seller["userId"],
            )
        code = await approve_consent(
            self.sandbox,
            username=seller["username"],
            client_id=CLIENT_ID,
            ru_name=RU_NAME,
            scopes=scopes,
        )
        reply = await self.broker.request(
            ConnectAccount(
                account_id=account.id, authorization_code=SecretStr(code), scopes=scopes
            ),
            ConnectAccount.SUBJECT,
            timeout=10,
        )
        assert ConnectAccountReply.model_validate_json(reply.body).connected
        return account.id

    async def rows(self, account_id: int | None) -> dict[str, PushSubscription]:
        async with self.sessions() as session:
            found = await session.scalars(
                select(PushSubscription).where(
                    PushSubscription.account_id.is_(None)
                    if account_id is None
                    else PushSubscription.account_id == account_id
                )
            )
            return {r.topic: r for r in found}

    async def app_token(self) -> str:
        response = await self.sandbox.post(
            "/identity/v1/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "scope": "https://api.ebay.com/oauth/api_scope",
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        return str(response.json()["access_token"])

    async def at_ebay(self) -> dict[str, dict[str, Any]]:
        """Every subscription the sandbox holds, by id (an application token sees all)."""
        token = await self.app_token()
        response = await self.sandbox.get(
            "/commerce/notification/v1/subscription",
            params={"limit": "100"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return {s["subscriptionId"]: s for s in response.json()["subscriptions"]}

    async def ebay_call(self, method: str, path: str) -> None:
        token = await self.app_token()
        response = await self.sandbox.request(
            method,
            f"/commerce/notification/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 204, response.text


@pytest.fixture
async def env(
    nats_url: str,
    database_server: DatabaseServer,
    broker: NatsBroker,
    topology: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Env]:
    monkeypatch.setenv("METRICS_PORT", "0")
    # A database of its own: the job walks every account there is.
    database_url = database_server.create_database(unique_database_name("push_subs"))
    await asyncio.to_thread(upgrade, database_url)
    engine = create_async_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    config = SandboxConfig(
        sellers=2,
        orders_per_day=1,
        history_days=1,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
    )
    port = find_free_port()
    async with serve_sandbox(config) as sandbox_url:
        ebay = sandbox_ebay(
            sandbox_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, ru_name=RU_NAME
        )
        push = PushSettings(
            enabled=True,
            public_url=f"http://127.0.0.1:{port}",
            verification_token=SecretStr(TOKEN),
            alert_email="ops@example.com",
            # The test runs the job itself.
            subscriptions_seconds=0,
        )
        settings = admin_settings(nats_url, database_url, ebay=ebay, push=push)

        async def tokens(account_id: int) -> AccessTokenReply:
            return await request_access_token(broker, account_id, 10)

        try:
            async with (
                running_token_service(nats_url, database_url, ebay),
                serve_admin_http(settings, port=port) as admin_url,
                httpx.AsyncClient(base_url=sandbox_url, timeout=30) as sandbox,
                httpx.AsyncClient(base_url=admin_url, timeout=30) as admin,
                httpx.AsyncClient(timeout=30) as http,
            ):
                org = await create_signed_in_org(admin, sessions)
                manager = SubscriptionManager(sessions, http, settings, tokens, utc_now)
                recheck = timedelta(seconds=push.recheck_seconds)

                def later() -> SubscriptionManager:
                    return SubscriptionManager(
                        sessions, http, settings, tokens, lambda: utc_now() + recheck
                    )

                sellers = (await sandbox.get("/sandbox/sellers")).json()
                yield Env(
                    manager, sessions, sandbox, admin, broker, sellers, org.viewer, org.id, later
                )
        finally:
            await engine.dispose()


FULL = " ".join(dict.fromkeys([*SCOPE_STRING.split(), *PUSH_SCOPES]))


async def test_an_account_gets_its_destination_and_subscriptions(env: Env) -> None:
    account_id = await env.connect(env.sellers[0], FULL)
    summary = await env.manager.run()
    assert summary.startswith(f"{len(USER_TOPICS) + len(APP_TOPICS) + 1} subscriptions created")
    async with env.sessions() as session:
        destination = (await session.scalars(select(PushDestination))).one()
    assert destination.status == "ENABLED", destination.detail
    assert destination.endpoint.endswith("/ebay/notifications/rest")
    mine = await env.rows(account_id)
    assert sorted(mine) == sorted([*USER_TOPICS, TRADING_TOPIC])
    assert {r.status for r in mine.values()} == {"ENABLED"}
    app = await env.rows(None)
    assert sorted(app) == APP_TOPICS
    at_ebay = await env.at_ebay()
    kept = [r.ebay_subscription_id for r in [*mine.values(), *app.values()] if r.api == "rest"]
    assert sorted(kept) == sorted(at_ebay)  # type: ignore[type-var]
    assert {s["status"] for s in at_ebay.values()} == {"ENABLED"}
    assert {s["destinationId"] for s in at_ebay.values()} == {destination.destination_id}
    # A second run finds everything in place: nothing created, nothing repaired, and the
    # seller, confirmed within the recheck interval, costs no call.
    before = await env.endpoint_calls()
    second = await env.manager.run()
    spent = await env.endpoint_calls() - before
    assert (
        second.startswith("0 subscriptions created, 0 repaired") and "1 sellers current" in second
    )
    assert await env.at_ebay() == at_ebay
    assert spent["GET getSubscription"] == len(APP_TOPICS)  # the application's topics only
    assert spent["POST /ws/api.dll GetNotificationPreferences"] == 0


async def test_a_subscription_ebay_disabled_or_lost_is_repaired(env: Env) -> None:
    account_id = await env.connect(env.sellers[0], FULL)
    await env.manager.run()
    before = await env.rows(account_id)
    disabled = before["ORDER_CONFIRMATION"].ebay_subscription_id
    lost = before["NEW_MESSAGE"].ebay_subscription_id
    await env.ebay_call("POST", f"/subscription/{disabled}/disable")
    await env.ebay_call("DELETE", f"/subscription/{lost}")
    assert (await env.at_ebay())[str(disabled)]["status"] == "DISABLED"
    # Confirmed a moment ago: the seller waits for its recheck (polling covers it meanwhile).
    assert "0 repaired" in await env.manager.run()
    assert (await env.at_ebay())[str(disabled)]["status"] == "DISABLED"

    assert await env.later().run() == (
        "0 subscriptions created, 2 repaired, 0 removed, 0 unavailable, 0 failed, 0 sellers current"
    )

    after = await env.rows(account_id)
    at_ebay = await env.at_ebay()
    assert at_ebay[str(disabled)]["status"] == "ENABLED"
    recreated = after["NEW_MESSAGE"].ebay_subscription_id
    assert recreated not in (None, lost) and at_ebay[str(recreated)]["topicId"] == "NEW_MESSAGE"
    assert after["ORDER_CONFIRMATION"].repairs == 1 and after["NEW_MESSAGE"].repairs == 1
    assert after["ITEM_MARKED_SHIPPED"].repairs == 0


async def test_a_deactivated_account_loses_its_subscriptions(env: Env) -> None:
    gone = await env.connect(env.sellers[0], FULL)
    stays = await env.connect(env.sellers[1], FULL)
    await env.manager.run()
    removed = {r.ebay_subscription_id for r in (await env.rows(gone)).values() if r.api == "rest"}
    async with env.sessions.begin() as session:
        await session.execute(
            update(EbayAccount).where(EbayAccount.id == gone).values(active=False)
        )

    assert f"{len(USER_TOPICS) + 1} removed" in await env.manager.run()

    assert await env.rows(gone) == {}
    at_ebay = await env.at_ebay()
    assert not removed & set(at_ebay)
    kept = {r.ebay_subscription_id for r in (await env.rows(stays)).values() if r.api == "rest"}
    assert kept <= set(at_ebay) and len(kept) == len(USER_TOPICS)


async def test_a_consent_without_a_topics_scope_says_reconnect(env: Env) -> None:
    scopes = " ".join(s for s in FULL.split() if s != MESSAGE_SCOPE)
    account_id = await env.connect(env.sellers[0], scopes)
    summary = await env.manager.run()
    assert "1 unavailable" in summary and "0 failed" in summary
    rows = await env.rows(account_id)
    message = rows["NEW_MESSAGE"]
    assert message.status == "UNAVAILABLE" and message.ebay_subscription_id is None
    assert message.detail == "push unavailable for messages: reconnect"
    assert rows["ORDER_CONFIRMATION"].status == "ENABLED"
    assert "NEW_MESSAGE" not in {s["topicId"] for s in (await env.at_ebay()).values()}

    body = (await env.admin.get(f"/api/accounts/{account_id}/push", headers=env.headers)).json()
    assert body["enabled"] is True
    assert body["unavailable"] == ["push unavailable for messages: reconnect"]
    by_topic = {s["topic"]: s for s in body["subscriptions"]}
    assert by_topic["NEW_MESSAGE"]["status"] == "UNAVAILABLE"
    assert by_topic["NEW_MESSAGE"]["family"] == "messages"
    assert by_topic["ORDER_CONFIRMATION"]["status"] == "ENABLED"


async def test_the_push_payloads_count_notifications_and_mark_live_pairs(env: Env) -> None:
    account_id = await env.connect(env.sellers[0], FULL)
    now = datetime.now(UTC)
    received = [
        ("ORDER_CONFIRMATION", "orders", now - timedelta(minutes=1)),
        ("ITEM_MARKED_SHIPPED", "orders", now - timedelta(minutes=2)),
        ("ORDER_CONFIRMATION", "orders", now - timedelta(minutes=3)),
        ("ORDER_RETURN_ACTIVITY", "returns", now - timedelta(hours=5)),
    ]
    async with env.sessions.begin() as session:
        for n, (topic, family, at) in enumerate(received):
            session.add(
                ReceivedNotification(
                    source="rest",
                    notification_id=f"n-{n}",
                    topic=topic,
                    account_id=account_id,
                    family=family,
                    targets=[],
                    received_at=at,
                )
            )
    body = (await env.admin.get(f"/api/accounts/{account_id}/push", headers=env.headers)).json()
    topics = {t["topic"]: t for t in body["topics"]}
    assert {t: v["count"] for t, v in topics.items()} == {
        "ORDER_CONFIRMATION": 2,
        "ITEM_MARKED_SHIPPED": 1,
        "ORDER_RETURN_ACTIVITY": 1,
    }
    last = datetime.fromisoformat(topics["ORDER_CONFIRMATION"]["last_received_at"])
    assert abs(last - received[0][2]) < timedelta(milliseconds=1)
    families = {f["family"]: f for f in body["families"]}
    assert families["orders"]["count"] == 3 and families["orders"]["live"] is True
    assert families["returns"]["count"] == 1 and families["returns"]["live"] is False
    live = (await env.admin.get("/api/push/live", headers=env.headers)).json()
    assert live["live_minutes"] == 30.0
    assert [(p["account_id"], p["family"]) for p in live["pairs"]] == [(account_id, "orders")]
    # Another org's viewer sees neither the account nor its pairs.
    other = await create_signed_in_org(env.admin, env.sessions)
    assert (
        await env.admin.get(f"/api/accounts/{account_id}/push", headers=other.viewer)
    ).status_code == 404
    assert (await env.admin.get("/api/push/live", headers=other.viewer)).json()["pairs"] == []
