"""The writer's subscriber on real JetStream: a failure hands the page back later, not at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from pydantic import SecretStr

from common.families import Family
from common.messages import PageBatch, Trigger, encoded
from common.metrics import MetricsSettings
from common.settings import NatsSettings, PostgresSettings
from common.streams import PAGES_STREAM, WRITER_DURABLE
from writer.app import create_app
from writer.settings import WriterSettings

pytestmark = pytest.mark.nats


async def test_a_page_that_cannot_be_written_is_redelivered_after_a_delay(
    nats_url: str, topology: JetStreamContext
) -> None:
    # Nothing listens on this port: every write fails until the database comes back.
    unreachable = f"postgresql+asyncpg://nobody@127.0.0.1:{find_free_port()}/none"
    app = create_app(
        WriterSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(unreachable)),
            metrics=MetricsSettings(port=0),
        )
    )
    await app.start()
    try:
        now = datetime.now(UTC)
        page = PageBatch(
            run_id=uuid.uuid4(),
            account_id=1,
            family=Family.ORDERS,
            window_from=now,
            window_to=now,
            trigger=Trigger.SCHEDULE,
            page_no=1,
            page_count=1,
            fetched_at=now,
            records=[],
        )
        await topology.publish(page.subject, encoded(page), stream=PAGES_STREAM)
        await asyncio.sleep(1.5)
        info = await topology.consumer_info(PAGES_STREAM, WRITER_DURABLE)
        # An immediate NAK would have burnt through max_deliver (10) by now.
        assert info.delivered.consumer_seq == 1
        assert info.num_ack_pending == 1  # held back, not lost
    finally:
        await app.stop()
