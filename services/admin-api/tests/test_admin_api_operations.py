"""Dead letters (JetStream), service health (heartbeats, consumer backlog), log retention."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.sync import SyncRepository, SyncRun
from common.db.tokens import TokenRefreshLog, TokenRepository
from common.families import Family
from common.messages import DeadLetter, ServiceHeartbeat, SyncWindow, Trigger, encoded
from common.streams import DLQ_STREAM, PAGES_STREAM, WINDOWS_STREAM
from testkit import admin_fixtures
from testkit.admin import Org, admin_settings, create_signed_in_org, serve_admin
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# The usual admin API, org and account (testkit.admin_fixtures).
client = admin_fixtures.client
org = admin_fixtures.org
account = admin_fixtures.account


def window(account_id: int) -> SyncWindow:
    now = datetime.now(UTC)
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(days=1),
        window_to=now - timedelta(minutes=5),
        trigger=Trigger.SCHEDULE,
        issued_at=now,
    )


async def dead_letter(js: JetStreamContext, command: SyncWindow, reason: str) -> int:
    """What the future DLQ writer will store for a window that failed for good."""
    letter = DeadLetter.of(
        command.subject,
        encoded(command),
        original_headers={"Nats-Msg-Id": command.message_id, "content-type": "application/json"},
        original_stream=WINDOWS_STREAM,
        original_sequence=7,
        reason=reason,
        deliveries=10,
        failed_at=datetime.now(UTC),
    )
    ack = await js.publish(letter.subject, encoded(letter), stream=DLQ_STREAM)
    return ack.seq


class TestDeadLetters:
    async def test_listed_and_inspected_with_the_original_message(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount, topology: JetStreamContext
    ) -> None:
        command = window(account.id)
        seq = await dead_letter(topology, command, "max deliveries: HTTP 500 ten times")
        listed = (await client.get("/api/dead-letters", headers=org.viewer)).json()
        assert [(d["sequence"], d["account_id"], d["reason"]) for d in listed] == [
            (seq, account.id, "max deliveries: HTTP 500 ten times")
        ]
        detail = (await client.get(f"/api/dead-letters/{seq}", headers=org.viewer)).json()
        assert detail["original_subject"] == command.subject
        assert detail["original_headers"]["Nats-Msg-Id"] == command.message_id
        assert detail["original_json"]["run_id"] == str(command.run_id)
        assert detail["deliveries"] == 10

    async def test_replay_republishes_the_original_and_removes_the_dead_letter(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount, topology: JetStreamContext
    ) -> None:
        command = window(account.id).model_copy(update={"trigger": Trigger.MANUAL})
        seq = await dead_letter(topology, command, "poison")
        refused = await client.post(f"/api/dead-letters/{seq}/replay", headers=org.operator)
        assert refused.status_code == 403
        replayed = await client.post(f"/api/dead-letters/{seq}/replay", headers=org.admin)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["stream"] == WINDOWS_STREAM
        msg = await topology.get_last_msg(WINDOWS_STREAM, command.subject)
        assert SyncWindow.model_validate_json(msg.data or b"") == command
        assert (msg.headers or {})["Nats-Msg-Id"] == command.message_id
        assert (await client.get(f"/api/dead-letters/{seq}", headers=org.admin)).status_code == 404

    async def test_a_replay_into_a_busy_pair_is_a_409_and_keeps_the_letter(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount, topology: JetStreamContext
    ) -> None:
        run = await client.post(
            f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator
        )
        assert run.status_code == 202
        seq = await dead_letter(topology, window(account.id), "poison")
        response = await client.post(f"/api/dead-letters/{seq}/replay", headers=org.admin)
        assert response.status_code == 409 and "in flight" in response.json()["detail"]
        assert (await client.get(f"/api/dead-letters/{seq}", headers=org.admin)).status_code == 200

    async def test_discard_drops_it_admins_only(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount, topology: JetStreamContext
    ) -> None:
        seq = await dead_letter(topology, window(account.id), "poison")
        assert (
            await client.delete(f"/api/dead-letters/{seq}", headers=org.operator)
        ).status_code == 403
        assert (
            await client.delete(f"/api/dead-letters/{seq}", headers=org.admin)
        ).status_code == 204
        assert (await client.get("/api/dead-letters", headers=org.admin)).json() == []

    async def test_another_orgs_dead_letters_do_not_exist(
        self,
        client: httpx.AsyncClient,
        org: Org,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessions.begin() as session:
            foreign = await create_account(session)
        seq = await dead_letter(topology, window(foreign.id), "not yours")
        assert (await client.get("/api/dead-letters", headers=org.admin)).json() == []
        for method, path in (
            ("GET", f"/api/dead-letters/{seq}"),
            ("POST", f"/api/dead-letters/{seq}/replay"),
            ("DELETE", f"/api/dead-letters/{seq}"),
        ):
            assert (await client.request(method, path, headers=org.admin)).status_code == 404


class TestDeadLettersOfNoOrg:
    """A page for an unknown account, or a subject naming none, is no org's: superadmins (the
    platform's operators) see it, an org's admins do not."""

    @pytest.fixture
    def superadmin(self) -> str:
        return f"root-{uuid.uuid4().hex[:8]}@example.com"  # emails are unique per database

    @pytest.fixture
    async def client(
        self,
        migrated_database_url: str,
        nats_url: str,
        topology: JetStreamContext,
        superadmin: str,
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = admin_settings(nats_url, migrated_database_url, superadmin_emails=superadmin)
        async with serve_admin(settings) as (_, client):
            yield client

    @pytest.fixture
    async def root(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], superadmin: str
    ) -> Org:
        return await create_signed_in_org(client, sessions, admin_email=superadmin)

    async def test_superadmins_see_a_letter_of_an_unknown_account_org_admins_do_not(
        self, client: httpx.AsyncClient, org: Org, root: Org, topology: JetStreamContext
    ) -> None:
        unknown = 8_000_000_000 + uuid.uuid4().int % 1_000_000
        seq = await dead_letter(topology, window(unknown), "account does not exist")
        listed = (await client.get("/api/dead-letters", headers=root.admin)).json()
        assert [(d["sequence"], d["account_id"]) for d in listed] == [(seq, unknown)]
        assert (await client.get(f"/api/dead-letters/{seq}", headers=root.admin)).status_code == 200
        for headers in (org.admin, root.viewer):
            assert (await client.get("/api/dead-letters", headers=headers)).json() == []
            detail = await client.get(f"/api/dead-letters/{seq}", headers=headers)
            assert detail.status_code == 404

    async def test_superadmins_see_a_letter_that_names_no_account(
        self, client: httpx.AsyncClient, root: Org, topology: JetStreamContext
    ) -> None:
        letter = DeadLetter.of(
            "sync.page.orders.99999999999999999999",
            b"{}",
            reason="PageBatch does not validate",
            failed_at=datetime.now(UTC),
        )
        ack = await topology.publish(letter.subject, encoded(letter), stream=DLQ_STREAM)
        listed = (await client.get("/api/dead-letters", headers=root.admin)).json()
        assert [d["sequence"] for d in listed] == [ack.seq]

    async def test_a_dead_page_is_fetched_again_not_replayed(
        self, client: httpx.AsyncClient, org: Org, account: EbayAccount, topology: JetStreamContext
    ) -> None:
        # Only the fetcher publishes pages (ADR 0008); the answer points to repair.
        letter = DeadLetter.of(
            f"sync.page.orders.{account.id}",
            b"{}",
            account_id=account.id,
            reason="RefusedPageError: window_to lies beyond now",
            failed_at=datetime.now(UTC),
        )
        ack = await topology.publish(letter.subject, encoded(letter), stream=DLQ_STREAM)
        response = await client.post(f"/api/dead-letters/{ack.seq}/replay", headers=org.admin)
        assert response.status_code == 409 and "repair" in response.json()["detail"]
        assert (await topology.stream_info(PAGES_STREAM)).state.messages == 0


async def test_service_health_shows_heartbeats_and_consumer_backlog(
    client: httpx.AsyncClient,
    org: Org,
    account: EbayAccount,
    nats_client: NatsClient,
) -> None:
    now = datetime.now(UTC)
    beat = ServiceHeartbeat(
        service="fetcher", instance="host-1:42", started_at=now, sent_at=now, interval_seconds=5
    )
    await nats_client.publish(beat.subject, encoded(beat))
    await nats_client.flush()
    await client.post(f"/api/accounts/{account.id}/workers/orders/run", headers=org.operator)
    for _ in range(50):
        health = (await client.get("/api/services", headers=org.viewer)).json()
        if any(s["status"] == "up" for s in health["services"]):
            break
    by_service = {s["service"]: s for s in health["services"]}
    assert by_service["fetcher"]["status"] == "up"
    assert by_service["fetcher"]["instance"] == "host-1:42"
    assert by_service["writer"]["status"] == "missing"
    consumers = {c["durable"]: c for c in health["consumers"]}
    assert consumers["fetcher"]["num_pending"] == 1
    assert consumers["writer"]["num_pending"] == 0
    assert health["paused"] is False
    assert {c["stream"] for c in health["consumers"]} == {WINDOWS_STREAM, PAGES_STREAM}


class TestRetention:
    async def test_purge_deletes_old_logs_but_keeps_each_workers_latest_run(
        self,
        client: httpx.AsyncClient,
        org: Org,
        account: EbayAccount,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        old = datetime.now(UTC) - timedelta(days=40)
        runs = [window(account.id) for _ in range(3)]
        async with sessions.begin() as session:
            for i, command in enumerate(runs):
                await SyncRepository(session).record_queued(command)
                # Run times come from the database clock: age them by hand.
                await session.execute(
                    text(
                        "UPDATE sync_runs SET queued_at = :at, updated_at = :at "
                        "WHERE run_id = :run_id"
                    ),
                    {"at": old + timedelta(hours=i), "run_id": command.run_id},
                )
            await session.execute(
                text("UPDATE sync_runs SET status = 'succeeded' WHERE account_id = :a"),
                {"a": account.id},
            )
            tokens = TokenRepository(session)
            await tokens.log_refresh(account.id, old, "ahead", "ok")
            await tokens.log_refresh(account.id, datetime.now(UTC), "ahead", "ok")
        before = (await client.get("/api/retention", headers=org.viewer)).json()
        assert (before["retention_days"], before["sync_runs"], before["token_refresh_log"]) == (
            30,
            2,
            1,
        )
        assert (
            await client.post("/api/retention/purge", headers=org.operator, json={})
        ).status_code == 403
        purged = (await client.post("/api/retention/purge", headers=org.admin, json={})).json()
        assert (purged["sync_runs"], purged["token_refresh_log"]) == (2, 1)
        async with sessions() as session:
            left = await session.scalars(
                select(SyncRun.run_id).where(SyncRun.account_id == account.id)
            )
            assert list(left) == [runs[-1].run_id]
            log_left = await session.scalar(
                select(func.count())
                .select_from(TokenRefreshLog)
                .where(TokenRefreshLog.account_id == account.id)
            )
            assert log_left == 1

    async def test_purge_never_touches_another_orgs_logs(
        self,
        client: httpx.AsyncClient,
        org: Org,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sessions.begin() as session:
            foreign = await create_account(session)
            await TokenRepository(session).log_refresh(
                foreign.id, datetime.now(UTC) - timedelta(days=400), "ahead", "ok"
            )
        purged = await client.post(
            "/api/retention/purge", headers=org.admin, json={"older_than_days": 1}
        )
        assert purged.json()["token_refresh_log"] == 0
        async with sessions() as session:
            assert len(await TokenRepository(session).refresh_log(foreign.id)) == 1
