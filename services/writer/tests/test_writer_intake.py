"""Forged and poison pages on real JetStream and PostgreSQL (issue 16, findings 2 and 6).

Each is dead-lettered at its first delivery with its own reason, once, and the mirror, the
cursor and the work queue are as they were.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import orjson
import pytest
from faststream import FastStream
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository
from common.db.orders import EbayOrder
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import DeadLetter, PageBatch, encoded
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import (
    ADVISORIES_STREAM,
    ADVISORY_SUBJECTS,
    DLQ_STREAM,
    FAILURES_DURABLE,
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from ebay_sandbox.settings import SandboxConfig
from testkit.ebay_samples import make_order
from testkit.factories import create_account
from testkit.pages import single_page
from testkit.sandbox import serve_sandbox
from testkit.waiting import eventually
from writer.app import create_app
from writer.settings import WriterSettings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

NOW = datetime.now(UTC)


@pytest.fixture
async def writer(
    nats_url: str, migrated_database_url: str, topology: JetStreamContext
) -> AsyncIterator[FastStream]:
    app = create_app(
        WriterSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(migrated_database_url)),
            metrics=MetricsSettings(port=0),
        )
    )
    await app.start()
    yield app
    await app.stop()


async def new_account(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


def genuine(account_id: int, order_id: str) -> PageBatch:
    return single_page(
        account_id,
        [make_order(order_id, modified=NOW - timedelta(hours=2), total="25.00")],
        window_from=NOW - timedelta(days=1),
        window_to=NOW - timedelta(hours=1),
    )


async def letters(js: JetStreamContext) -> list[DeadLetter]:
    info = await js.stream_info(DLQ_STREAM)
    if info.state.messages == 0:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await js.get_msg(DLQ_STREAM, seq)
        found.append(DeadLetter.model_validate_json(raw.data or b""))
    return found


async def one_letter(js: JetStreamContext) -> DeadLetter:
    async def stored() -> bool:
        return len(await letters(js)) >= 1

    await eventually(stored, within=20, what="a dead letter")
    await asyncio.sleep(0.5)  # a second one would arrive by now
    [letter] = await letters(js)
    # Once, at the first delivery, and gone from the work queue.
    assert letter.deliveries == 1
    assert (await js.stream_info(PAGES_STREAM)).state.messages == 0
    info = await js.consumer_info(PAGES_STREAM, WRITER_DURABLE)
    assert info.num_redelivered == 0 and info.num_ack_pending == 0
    return letter


async def written(sessions: async_sessionmaker[AsyncSession], page: PageBatch) -> None:
    async def done() -> bool:
        async with sessions() as session:
            run = await SyncRepository(session).get_run(page.run_id)
        return run is not None and run.status == "succeeded"

    await eventually(done, within=20, what=f"run {page.run_id} written")


async def order(sessions: async_sessionmaker[AsyncSession], order_id: str) -> EbayOrder | None:
    async with sessions() as session:
        found: EbayOrder | None = await session.scalar(
            select(EbayOrder).where(EbayOrder.order_id == order_id)
        )
        return found


async def cursor(sessions: async_sessionmaker[AsyncSession], account_id: int) -> datetime | None:
    async with sessions() as session:
        state = await SyncRepository(session).get_state(account_id, Family.ORDERS)
    return state.cursor if state else None


class TestForgedPages:
    async def test_a_body_naming_another_account_than_its_subject_is_refused(
        self,
        writer: FastStream,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        mine, victim = await new_account(sessions), await new_account(sessions)
        order_id = f"forged-{uuid.uuid4().hex[:8]}"
        forged = single_page(victim, [make_order(order_id, modified=NOW - timedelta(hours=1))])
        subject = f"sync.page.orders.{mine}"  # the publisher's pair, another org's account
        await topology.publish(subject, encoded(forged), stream=PAGES_STREAM)

        letter = await one_letter(topology)
        assert letter.original_subject == subject
        assert f"body account_id {victim!r} disagrees with subject" in letter.reason
        assert letter.account_id == mine  # the subject's org sees it, not the victim's
        assert await order(sessions, order_id) is None
        assert await cursor(sessions, victim) is None

    async def test_a_window_ending_in_2099_is_refused_and_the_cursor_stays(
        self,
        writer: FastStream,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        account = await new_account(sessions)
        first = genuine(account, f"real-{uuid.uuid4().hex[:8]}")
        await topology.publish(first.subject, encoded(first), stream=PAGES_STREAM)
        await written(sessions, first)
        before = await cursor(sessions, account)
        assert before == first.window_to

        order_id = f"future-{uuid.uuid4().hex[:8]}"
        forged = single_page(
            account,
            [make_order(order_id, modified=NOW - timedelta(minutes=5))],
            window_from=NOW - timedelta(hours=1),
            window_to=datetime(2099, 1, 1, tzinfo=UTC),
        )
        await topology.publish(forged.subject, encoded(forged), stream=PAGES_STREAM)

        letter = await one_letter(topology)
        assert "RefusedPageError: window_to 2099-01-01T00:00:00+00:00 lies beyond now" in (
            letter.reason
        )
        assert letter.account_id == account
        assert await cursor(sessions, account) == before
        assert await order(sessions, order_id) is None

    async def test_an_order_modified_in_2098_is_refused_and_the_real_order_keeps_its_total(
        self,
        writer: FastStream,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        account = await new_account(sessions)
        order_id = f"real-{uuid.uuid4().hex[:8]}"
        first = genuine(account, order_id)
        await topology.publish(first.subject, encoded(first), stream=PAGES_STREAM)
        await written(sessions, first)

        tampered = make_order(order_id, modified=datetime(2098, 1, 1, tzinfo=UTC), total="0.01")
        forged = single_page(
            account,
            [tampered],
            window_from=NOW - timedelta(hours=1),
            window_to=NOW - timedelta(minutes=30),
        )
        await topology.publish(forged.subject, encoded(forged), stream=PAGES_STREAM)

        letter = await one_letter(topology)
        assert f"ebay_orders {order_id}: last_modified_date 2098-01-01" in letter.reason
        kept = await order(sessions, order_id)
        assert kept is not None and kept.total_value == Decimal("25.00")
        assert kept.last_modified_date < NOW
        assert await cursor(sessions, account) == first.window_to

    async def test_a_page_for_an_unknown_account_is_dead_lettered_at_once(
        self,
        writer: FastStream,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        unknown = 9_000_000_000 + int(uuid.uuid4().int % 1_000_000)
        page = genuine(unknown, f"stray-{uuid.uuid4().hex[:8]}")
        await topology.publish(page.subject, encoded(page), stream=PAGES_STREAM)

        letter = await one_letter(topology)
        assert letter.reason == f"RefusedPageError: account {unknown} does not exist"
        assert letter.account_id == unknown  # no org owns it: admins see it

        async def recorded() -> bool:
            info = await topology.consumer_info(DLQ_STREAM, FAILURES_DURABLE)
            return bool(info.ack_floor.stream_seq >= 1)

        # Recorded once (no run to fail, no pair to count), not retried.
        await eventually(recorded, within=10, what="the letter recorded")
        info = await topology.consumer_info(DLQ_STREAM, FAILURES_DURABLE)
        assert info.num_redelivered == 0 and info.num_ack_pending == 0

    async def test_a_page_for_a_deactivated_account_is_dead_lettered_at_once(
        self,
        writer: FastStream,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        account = await new_account(sessions)
        async with sessions.begin() as session:
            row = await AccountRepository(session).get(account)
            assert row is not None
            row.active = False
        page = genuine(account, f"late-{uuid.uuid4().hex[:8]}")
        await topology.publish(page.subject, encoded(page), stream=PAGES_STREAM)

        letter = await one_letter(topology)
        assert letter.reason == f"RefusedPageError: account {account} is deactivated"
        assert await order(sessions, page.records[0]["orderId"]) is None


class TestPoisonPages:
    async def test_a_body_that_is_not_json_is_dead_lettered_with_its_reason(
        self, writer: FastStream, topology: JetStreamContext
    ) -> None:
        await topology.publish("sync.page.orders.7", b"{not json", stream=PAGES_STREAM)
        letter = await one_letter(topology)
        assert letter.reason.startswith("PageBatch does not validate: body: Invalid JSON")
        assert letter.original_data == b"{not json" and letter.account_id == 7

    async def test_a_body_missing_fields_is_dead_lettered_with_the_validation_error(
        self, writer: FastStream, topology: JetStreamContext
    ) -> None:
        body = orjson.dumps({"account_id": 7, "family": "orders", "page_no": 0})
        await topology.publish("sync.page.orders.7", body, stream=PAGES_STREAM)
        letter = await one_letter(topology)
        assert letter.reason.startswith("PageBatch does not validate: ")
        assert "run_id: Field required" in letter.reason
        assert "page_no: Input should be greater than or equal to 1" in letter.reason

    async def test_an_account_id_beyond_int64_is_dead_lettered_not_stuck(
        self,
        writer: FastStream,
        topology: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        huge = 2**63
        body = genuine(1, "huge").model_dump(mode="json") | {"account_id": huge}
        await topology.publish(f"sync.page.orders.{huge}", orjson.dumps(body), stream=PAGES_STREAM)
        letter = await one_letter(topology)
        assert "account_id: Input should be less than or equal to 9223372036854775807" in (
            letter.reason
        )
        assert letter.account_id is None  # names no account: admins see it


class TestTheMover:
    async def test_an_advisory_is_kept_until_a_writer_moves_its_message_whatever_the_body(
        self, nats_url: str, migrated_database_url: str, topology: JetStreamContext
    ) -> None:
        # A window whose account no database query survives, and the advisory that its
        # consumer gave up on it, both stored while no writer runs.
        huge = 2**63 + 5
        subject = f"sync.window.orders.{huge}"
        body = b'{"account_id": %d, "family": "orders"}' % huge
        stored = await topology.publish(subject, body, stream=WINDOWS_STREAM)
        advisory = {
            "type": "io.nats.jetstream.advisory.v1.max_deliver",
            "stream": WINDOWS_STREAM,
            "consumer": FETCHER_DURABLE,
            "stream_seq": stored.seq,
            "deliveries": 10,
        }
        await topology.publish(
            ADVISORY_SUBJECTS[0], orjson.dumps(advisory), stream=ADVISORIES_STREAM
        )
        app = create_app(
            WriterSettings(
                nats=NatsSettings(url=nats_url),
                database=PostgresSettings(url=SecretStr(migrated_database_url)),
                metrics=MetricsSettings(port=0),
            )
        )
        await app.start()
        try:

            async def moved() -> bool:
                return (await topology.stream_info(WINDOWS_STREAM)).state.messages == 0

            await eventually(moved, within=20, what="the window moved off its work queue")
        finally:
            await app.stop()
        [letter] = await letters(topology)
        assert letter.original_subject == subject and letter.original_data == body
        assert letter.reason == "exhausted 10 deliveries" and letter.account_id is None
        assert (await topology.stream_info(ADVISORIES_STREAM)).state.messages == 0


async def test_the_bound_follows_the_deployments_clock_when_it_moves_ahead(
    nats_url: str,
    migrated_database_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Under `ebaysync up` "now" is the sandbox's, which tests move days ahead: a page of that
    # future is genuine, even when the writer read the clock before it moved.
    async with serve_sandbox(SandboxConfig(sellers=1, profile="tiny")) as sandbox:
        app = create_app(
            WriterSettings(
                nats=NatsSettings(url=nats_url),
                database=PostgresSettings(url=SecretStr(migrated_database_url)),
                metrics=MetricsSettings(port=0),
                clock_url=f"{sandbox}/sandbox/clock",
            )
        )
        await app.start()
        try:
            async with httpx.AsyncClient() as http:
                moved = await http.post(
                    f"{sandbox}/sandbox/clock/advance", json={"seconds": 2 * 86_400}
                )
                moved.raise_for_status()
            account = await new_account(sessions)
            ahead = datetime.now(UTC) + timedelta(days=2)
            page = single_page(
                account,
                [make_order(f"ahead-{uuid.uuid4().hex[:8]}", modified=ahead - timedelta(hours=1))],
                window_from=ahead - timedelta(days=1),
                window_to=ahead - timedelta(minutes=2),
            )
            await topology.publish(page.subject, encoded(page), stream=PAGES_STREAM)
            await written(sessions, page)
        finally:
            await app.stop()
    assert await letters(topology) == []
