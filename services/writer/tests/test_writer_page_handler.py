"""The writer's page handler on FastStream's in-memory broker: what a failed page leaves behind.

No JetStream and no database here (the real-broker tests own acks and writes): a page the gate
refuses becomes a dead letter; a write that fails is counted and handed back, never buried.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from faststream.nats import NatsBroker, TestNatsBroker
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from common.families import Family
from common.messages import DeadLetter, PageBatch, Trigger, encoded
from common.settings import PostgresSettings
from common.streams import PAGES_STREAM, WRITER_DURABLE
from writer.handlers import build_router
from writer.service import PageWriter, WriteResult
from writer.settings import WriterSettings
from writer.validation import PageGate

NOW = datetime(2026, 12, 1, tzinfo=UTC)
# Never connected to: the writer's parts are stand-ins here.
SETTINGS = WriterSettings(database=PostgresSettings(url=SecretStr("postgresql+asyncpg://none/x")))


def a_page(window_to: datetime = NOW) -> PageBatch:
    return PageBatch(
        run_id=uuid.uuid4(),
        account_id=7,
        family=Family.ORDERS,
        window_from=window_to - timedelta(hours=1),
        window_to=window_to,
        trigger=Trigger.SCHEDULE,
        page_no=1,
        page_count=1,
        fetched_at=NOW,
        records=[],
    )


class DatabaseDown:
    def __init__(self) -> None:
        self.pages: list[PageBatch] = []

    async def write(self, page: PageBatch, trace_id: str | None) -> WriteResult:
        self.pages.append(page)
        raise OperationalError("INSERT", {}, ConnectionRefusedError())


class Recorder:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def dead_lettered(self, letter: DeadLetter) -> bool:
        self.letters.append(letter)
        return True


def counted(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def handle(page: PageBatch, writer: DatabaseDown) -> list[DeadLetter]:
    broker = NatsBroker()
    gate = PageGate(lambda: NOW, timedelta(minutes=5))
    broker.include_router(build_router(SETTINGS, broker, cast(PageWriter, writer), gate))
    recorder = Recorder()

    # The first delivery, as JetStream's reply subject says (STACK-NOTES §1.7).
    delivery = f"$JS.ACK.{PAGES_STREAM}.{WRITER_DURABLE}.1.5.5.1764547200000000000.0"
    async with TestNatsBroker(broker) as test:
        # The writer's own dead-letter consumer reads them back (inline, in this broker).
        test.context.set_global("failure_recorder", recorder)
        await test.publish(encoded(page), page.subject, reply_to=delivery)
    return recorder.letters


async def test_a_page_from_the_future_is_dead_lettered_unwritten() -> None:
    writer = DatabaseDown()
    before = counted("ebaysync_pages_total", {"family": "orders", "stage": "dead_lettered"})
    [letter] = await handle(a_page(window_to=NOW + timedelta(days=1)), writer)
    assert letter.reason.startswith("RefusedPageError: "), letter.reason
    assert letter.account_id == 7 and letter.deliveries == 1
    assert writer.pages == []
    after = counted("ebaysync_pages_total", {"family": "orders", "stage": "dead_lettered"})
    assert after - before == 1


async def test_a_write_that_fails_is_counted_and_handed_back_not_dead_lettered() -> None:
    writer = DatabaseDown()
    labels = {"service": "writer", "kind": "OperationalError"}
    before = counted("ebaysync_errors_total", labels)
    page = a_page()
    assert await handle(page, writer) == []
    assert writer.pages == [page]
    assert counted("ebaysync_errors_total", labels) - before == 1
