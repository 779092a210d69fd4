"""Windows no retry can fix, on the real path: sandbox over HTTP → token service → fetcher on
JetStream → writer on PostgreSQL. Each fault kind ends as one dead letter with its reason and the
original headers, the run failed, the pair free; another seller's window is unaffected. A
replayed dead letter is then processed like any window."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.deadletters import DeadLetterStore
from common.db.orders import EbayOrder
from common.db.sync import SyncRepository, SyncRun
from common.families import Family
from common.messages import DeadLetter, SyncWindow, Trigger, encoded
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import DLQ_STREAM, WINDOWS_STREAM
from ebay_sandbox.settings import SandboxConfig
from fetcher.app import create_app as create_fetcher
from fetcher.settings import FetcherSettings
from testkit.pipeline import Pipeline, Seller, family_pipeline
from testkit.waiting import eventually
from writer.app import create_app as create_writer
from writer.settings import WriterSettings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# Small enough that one order is over it (the oversized case); every other case sets its own.
TINY_PAGE_BYTES = 300


@asynccontextmanager
async def running(
    nats_url: str,
    database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    max_page_bytes: int = 900_000,
) -> AsyncIterator[Pipeline]:
    """Two tiny sellers, connected; the fetcher and the writer consuming from JetStream."""
    nats = NatsSettings(url=nats_url)
    metrics = MetricsSettings(port=0)
    async with family_pipeline(
        nats_url=nats_url,
        database_url=database_url,
        broker=broker,
        sessions=sessions,
        config=SandboxConfig(sellers=2, profile="tiny", orders_per_day=4),
        fetcher_settings=FetcherSettings(nats=nats, metrics=metrics, max_page_bytes=max_page_bytes),
    ) as pipeline:
        apps: list[FastStream] = [
            create_fetcher(pipeline.fetcher_settings),
            create_writer(
                WriterSettings(
                    nats=nats,
                    database=PostgresSettings(url=SecretStr(database_url)),
                    metrics=metrics,
                )
            ),
        ]
        for app in apps:
            await app.start()
        try:
            yield pipeline
        finally:
            for app in reversed(apps):
                await app.stop()


def window(seller: Seller, start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=Family.ORDERS,
        window_from=start,
        window_to=end,
        trigger=Trigger.MANUAL,
        issued_at=datetime.now(UTC),
    )


async def send(js: JetStreamContext, command: SyncWindow) -> int:
    headers = {"Nats-Msg-Id": command.message_id, "x-sent-by": "test"}
    ack = await js.publish(
        command.subject, encoded(command), stream=WINDOWS_STREAM, headers=headers
    )
    return ack.seq


async def run_status(sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> str | None:
    async with sessions() as session:
        run = await SyncRepository(session).get_run(run_id)
    return None if run is None else run.status


async def both_ended(
    sessions: async_sessionmaker[AsyncSession], failing: SyncWindow, healthy: SyncWindow
) -> bool:
    return (
        await run_status(sessions, failing.run_id) == "failed"
        and await run_status(sessions, healthy.run_id) == "succeeded"
    )


async def letters(js: JetStreamContext) -> list[tuple[int, DeadLetter]]:
    found = []
    info = await js.stream_info(DLQ_STREAM)
    if info.state.messages:
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await js.get_msg(DLQ_STREAM, seq)
            found.append((seq, DeadLetter.model_validate_json(raw.data or b"")))
    return found


async def mirrored(sessions: async_sessionmaker[AsyncSession], account_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(EbayOrder).where(EbayOrder.account_id == account_id)
        )
    return int(count or 0)


FAULTS = {
    # A 2xx with half a JSON body, on every call (the in-page retries see it too).
    "malformed_json": ("EbayPayloadError: ", TINY_PAGE_BYTES * 3000),
    # A window in the future: eBay answers 400 (30850), whatever we retry.
    "request_4xx": ("EbayRequestError: ", TINY_PAGE_BYTES * 3000),
    # One order is larger than a page message may be.
    "oversized_record": ("OversizedRecordError: one record is ", TINY_PAGE_BYTES),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_window_no_retry_can_fix_is_dead_lettered_once_and_its_run_fails(
    fault: str,
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reason_prefix, max_page_bytes = FAULTS[fault]
    async with running(
        nats_url, migrated_database_url, broker, sessions, max_page_bytes
    ) as pipeline:
        poisoned, healthy = pipeline.sellers
        now = await pipeline.sandbox_now()
        failing = window(poisoned, now - timedelta(days=20), now - timedelta(minutes=1))
        if fault == "malformed_json":
            await pipeline.fault(poisoned, "malformed_json", family="orders", count=100)
        elif fault == "request_4xx":
            failing = window(poisoned, now + timedelta(days=1), now + timedelta(days=2))
        # The other seller's window, in flight at the same time, is not disturbed (for the
        # oversized case it is a quiet minute with no order at all, so nothing is too big).
        quiet = fault == "oversized_record"
        good = window(
            healthy,
            now - (timedelta(minutes=2) if quiet else timedelta(days=20)),
            now - timedelta(minutes=1),
        )
        sequence = await send(topology, failing)
        await send(topology, good)
        await eventually(
            lambda: both_ended(sessions, failing, good), within=30, what=f"{fault} dead-lettered"
        )

    [(_, letter)] = await letters(topology)
    assert letter.original_subject == failing.subject
    assert letter.original_stream == WINDOWS_STREAM and letter.original_sequence == sequence
    assert letter.original_headers["Nats-Msg-Id"] == failing.message_id
    assert letter.original_headers["x-sent-by"] == "test"
    assert SyncWindow.model_validate_json(letter.original_data) == failing
    assert letter.account_id == poisoned.account_id and letter.deliveries == 1
    assert letter.reason.startswith(reason_prefix), letter.reason
    async with sessions() as session:
        run = await session.get(SyncRun, failing.run_id)
        state = await SyncRepository(session).get_state(poisoned.account_id, Family.ORDERS)
    assert run is not None and run.error == letter.reason and run.finished_at is not None
    assert state is not None and state.last_error == letter.reason
    assert state.consecutive_failures == 1
    # Terminated: the pair's subject is free, and the healthy pair lost nothing.
    assert (await topology.stream_info(WINDOWS_STREAM)).state.messages == 0
    if not quiet:
        assert await mirrored(sessions, healthy.account_id) > 0


async def test_a_replayed_dead_letter_is_fetched_and_written_like_any_window(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with running(nats_url, migrated_database_url, broker, sessions) as pipeline:
        seller, other = pipeline.sellers
        now = await pipeline.sandbox_now()
        await pipeline.fault(seller, "malformed_json", family="orders", count=100)
        failing = window(seller, now - timedelta(days=20), now - timedelta(minutes=1))
        good = window(other, now - timedelta(days=20), now - timedelta(minutes=1))
        await send(topology, failing)
        await send(topology, good)
        await eventually(
            lambda: both_ended(sessions, failing, good), within=30, what="dead-lettered"
        )
        [(sequence, _)] = await letters(topology)
        assert await mirrored(sessions, seller.account_id) == 0

        # eBay is well again; an operator replays the dead letter (the admin API's store),
        # seconds after the original: within the stream's duplicate window.
        response = await pipeline.http.delete(
            f"{pipeline.sandbox_url}/sandbox/faults", params={"username": seller.username}
        )
        response.raise_for_status()
        store = DeadLetterStore(topology, timeout=5)
        stored = await store.get(sequence)
        assert stored is not None
        ack = await store.replay(stored)
        assert ack.stream == WINDOWS_STREAM

        async def succeeded() -> bool:
            return await run_status(sessions, failing.run_id) == "succeeded"

        await eventually(succeeded, within=30, what="the replayed window written")
        truth = await pipeline.truth(
            seller, "orders", date_from=failing.window_from, date_to=failing.window_to
        )
    assert await letters(topology) == []  # replayed, so no longer a dead letter
    assert await mirrored(sessions, seller.account_id) == len(truth.json()["orders"]) > 0
