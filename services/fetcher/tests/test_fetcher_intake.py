"""Poison windows on real JetStream (issue 16, finding 6): a body that is no SyncWindow of its
subject's pair is dead-lettered at its first delivery with its own reason, once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from faststream import FastStream
from nats.js import JetStreamContext

from common.families import Family
from common.messages import DeadLetter, SyncWindow, Trigger, encoded
from common.metrics import MetricsSettings
from common.settings import NatsSettings
from common.streams import DLQ_STREAM, FETCHER_DURABLE, WINDOWS_STREAM
from fetcher.app import create_app
from fetcher.settings import FetcherSettings
from testkit.waiting import eventually

pytestmark = pytest.mark.nats

SUBJECT = "sync.window.orders.7"


@pytest.fixture
async def fetcher(nats_url: str, topology: JetStreamContext) -> AsyncIterator[FastStream]:
    app = create_app(
        FetcherSettings(
            nats=NatsSettings(url=nats_url),
            metrics=MetricsSettings(port=0),
            token_timeout_seconds=1,
        )
    )
    await app.start()
    yield app
    await app.stop()


async def the_letter(js: JetStreamContext) -> DeadLetter:
    async def stored() -> bool:
        return (await js.stream_info(DLQ_STREAM)).state.messages >= 1

    await eventually(stored, within=20, what="a dead letter")
    await asyncio.sleep(0.5)
    info = await js.stream_info(DLQ_STREAM)
    assert info.state.messages == 1
    raw = await js.get_msg(DLQ_STREAM, info.state.last_seq)
    letter = DeadLetter.model_validate_json(raw.data or b"")
    assert letter.deliveries == 1 and letter.original_subject == SUBJECT
    assert (await js.stream_info(WINDOWS_STREAM)).state.messages == 0  # the pair is free
    consumer = await js.consumer_info(WINDOWS_STREAM, FETCHER_DURABLE)
    assert consumer.num_redelivered == 0
    return letter


def window(account_id: int) -> SyncWindow:
    now = datetime.now(UTC)
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(hours=2),
        window_to=now - timedelta(hours=1),
        trigger=Trigger.SCHEDULE,
        issued_at=now,
    )


async def test_a_window_that_is_not_json_is_dead_lettered_at_the_first_delivery(
    fetcher: FastStream, topology: JetStreamContext
) -> None:
    await topology.publish(SUBJECT, b"\xff\xfe", stream=WINDOWS_STREAM)
    letter = await the_letter(topology)
    assert letter.reason.startswith("SyncWindow does not validate: body: Invalid JSON")
    assert letter.account_id == 7


async def test_a_window_with_a_bad_field_is_dead_lettered_with_the_validation_error(
    fetcher: FastStream, topology: JetStreamContext
) -> None:
    body = window(7).model_dump(mode="json") | {"window_to": "yesterday"}
    await topology.publish(SUBJECT, orjson.dumps(body), stream=WINDOWS_STREAM)
    letter = await the_letter(topology)
    assert letter.reason.startswith("SyncWindow does not validate: window_to: Input should be")


async def test_a_window_naming_another_account_than_its_subject_is_refused(
    fetcher: FastStream, topology: JetStreamContext
) -> None:
    await topology.publish(SUBJECT, encoded(window(8)), stream=WINDOWS_STREAM)
    letter = await the_letter(topology)
    assert letter.reason == f"body account_id 8 disagrees with subject {SUBJECT!r}"
    assert letter.account_id == 7
