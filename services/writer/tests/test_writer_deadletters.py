"""Dead letters on real JetStream and PostgreSQL: a page no retry can fix, a window that ran out
of deliveries; both end in SYNC_DLQ whole, their run failed, their pair free again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from faststream import FastStream
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.breaker import BreakerSettings
from common.db.sync import SyncRepository, SyncRun, SyncState
from common.families import Family
from common.messages import DeadLetter, PageBatch, SyncWindow, Trigger, encoded
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import (
    DLQ_STREAM,
    FETCHER,
    PAGES_STREAM,
    WINDOWS_STREAM,
)
from fetcher.app import create_app as create_fetcher
from fetcher.settings import FetcherSettings
from testkit.factories import create_account
from testkit.waiting import eventually
from writer.app import create_app as create_writer
from writer.settings import WriterSettings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


@pytest.fixture
async def writer(
    nats_url: str, migrated_database_url: str, topology: JetStreamContext
) -> AsyncIterator[FastStream]:
    app = create_writer(
        WriterSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(migrated_database_url)),
            metrics=MetricsSettings(port=0),
            breaker=BreakerSettings(threshold=2, base_seconds=60, cap_seconds=3600),
        )
    )
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def account_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return (await create_account(session)).id


def page(
    account_id: int, run_id: uuid.UUID, page_no: int, records: list[dict[str, object]]
) -> PageBatch:
    now = datetime.now(UTC)
    return PageBatch(
        run_id=run_id,
        account_id=account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(hours=1),
        window_to=now,
        trigger=Trigger.SCHEDULE,
        page_no=page_no,
        page_count=None,
        fetched_at=now,
        records=records,
    )


def order(order_id: str) -> dict[str, object]:
    return {
        "orderId": order_id,
        "creationDate": "2026-11-01T10:00:00.000Z",
        "lastModifiedDate": "2026-11-01T10:00:00.000Z",
        "orderFulfillmentStatus": "NOT_STARTED",
        "orderPaymentStatus": "PAID",
        "lineItems": [],
    }


async def dead_letters(js: JetStreamContext) -> list[DeadLetter]:
    info = await js.stream_info(DLQ_STREAM)
    letters = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        raw = await js.get_msg(DLQ_STREAM, seq)
        letters.append(DeadLetter.model_validate_json(raw.data or b""))
    return letters


async def stored(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def run(sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> SyncRun | None:
    async with sessions() as session:
        return await SyncRepository(session).get_run(run_id)


async def state(sessions: async_sessionmaker[AsyncSession], account_id: int) -> SyncState | None:
    async with sessions() as session:
        return await SyncRepository(session).get_state(account_id, Family.ORDERS)


async def test_a_malformed_record_is_dead_lettered_at_once_and_its_run_fails(
    writer: FastStream,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    run_id = uuid.uuid4()
    good = page(account_id, run_id, 1, [order("11-00001-00001")])
    bad = page(account_id, run_id, 2, [{"creationDate": "2026-11-01T10:00:00Z"}])  # no orderId
    headers = {"Nats-Msg-Id": bad.message_id, "x-origin": "test"}
    await topology.publish(good.subject, encoded(good), stream=PAGES_STREAM)
    ack = await topology.publish(bad.subject, encoded(bad), stream=PAGES_STREAM, headers=headers)

    async def recorded() -> bool:
        current = await run(sessions, run_id)
        return current is not None and current.status == "failed"

    await eventually(recorded, within=20, what="the run marked failed")
    [letter] = await dead_letters(topology)
    assert letter.original_subject == bad.subject
    assert letter.original_stream == PAGES_STREAM and letter.original_sequence == ack.seq
    assert letter.original_headers["Nats-Msg-Id"] == bad.message_id
    assert letter.original_headers["x-origin"] == "test"
    assert PageBatch.model_validate_json(letter.original_data) == bad
    assert letter.account_id == account_id and letter.deliveries == 1
    assert letter.reason.startswith("MalformedRecordError: orderId is missing")
    # Terminated, not held back: nothing is left in the work queue, and the good page was kept.
    assert await stored(topology, PAGES_STREAM) == 0
    failed = await run(sessions, run_id)
    assert failed is not None and failed.error == letter.reason and failed.finished_at
    assert failed.pages_written == 1
    pair = await state(sessions, account_id)
    assert pair is not None and pair.consecutive_failures == 1
    assert pair.last_error == letter.reason and pair.last_error_at is not None
    assert pair.paused_until is None  # one failure is below the breaker's threshold


async def test_a_window_that_runs_out_of_deliveries_is_moved_and_frees_its_pair(
    writer: FastStream,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
) -> None:
    fetcher = create_fetcher(
        FetcherSettings(
            nats=NatsSettings(url=nats_url),
            metrics=MetricsSettings(port=0),
            token_timeout_seconds=1,
        )
    )
    await fetcher.start()
    # Two deliveries only (after the fetcher's start-up applied the topology); with no token
    # service every delivery fails (no responders).
    await topology.add_consumer(WINDOWS_STREAM, replace(FETCHER, max_deliver=2))
    try:
        now = datetime.now(UTC)
        window = SyncWindow(
            run_id=uuid.uuid4(),
            account_id=account_id,
            family=Family.ORDERS,
            window_from=now - timedelta(hours=2),
            window_to=now - timedelta(hours=1),
            trigger=Trigger.SCHEDULE,
            issued_at=now,
        )
        headers = {"Nats-Msg-Id": window.message_id}
        ack = await topology.publish(
            window.subject, encoded(window), stream=WINDOWS_STREAM, headers=headers
        )
        async with sessions.begin() as session:
            await SyncRepository(session).record_queued(window)

        async def recorded() -> bool:
            current = await run(sessions, window.run_id)
            return current is not None and current.status == "failed"

        await eventually(recorded, within=30, what="the exhausted window's run marked failed")
    finally:
        await fetcher.stop()
    [letter] = await dead_letters(topology)
    assert letter.original_subject == window.subject
    assert letter.original_stream == WINDOWS_STREAM and letter.original_sequence == ack.seq
    assert letter.original_headers["Nats-Msg-Id"] == window.message_id
    assert SyncWindow.model_validate_json(letter.original_data) == window
    assert letter.deliveries == 2
    # The reason names the deliveries; waiting for the token service is no failed attempt, so
    # the fetcher reported no error to name.
    assert letter.reason == "exhausted 2 deliveries"
    # Deleted from the work queue: the pair's subject takes a new window at once.
    assert await stored(topology, WINDOWS_STREAM) == 0
    follow_up = window.model_copy(update={"run_id": uuid.uuid4(), "trigger": Trigger.MANUAL})
    await topology.publish(
        follow_up.subject,
        encoded(follow_up),
        stream=WINDOWS_STREAM,
        headers={"Nats-Msg-Id": follow_up.message_id},
    )
    # Only the dead letter counts (token-service waits are not the account's failures): below
    # the breaker's threshold of 2, the pair is not paused.
    pair = await state(sessions, account_id)
    assert pair is not None and pair.consecutive_failures == 1
    assert pair.paused_until is None
    async with sessions() as session:
        [pair_state] = [
            p
            for p in await SyncRepository(session).pair_states(
                [Family.ORDERS], datetime.now(UTC), timedelta(minutes=30)
            )
            if p.account_id == account_id
        ]
    assert not pair_state.in_flight  # a failed run no longer holds the pair
