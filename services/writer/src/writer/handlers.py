"""The writer's subscriber: one durable pull consumer shared by every replica."""

from __future__ import annotations

import logging
from typing import Annotated

from faststream import AckPolicy, Context
from faststream.exceptions import NackMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsRouter, PullSub

from common.messages import PageBatch, encoded
from common.metrics import ERRORS, PAGES, ROWS, RUNS_COMPLETED
from common.redelivery import delivery_attempt, retry_delay
from common.streams import PAGE_SUBJECTS, PAGES_STREAM, WRITER_DURABLE
from common.telemetry import annotate_run, current_trace_id
from writer.domain import MalformedRecordError
from writer.service import PageWriter, UnsupportedFamilyError
from writer.settings import WriterSettings

log = logging.getLogger(__name__)

PageWriterDep = Annotated[PageWriter, Context("page_writer")]
BrokerDep = Annotated[NatsBroker, Context("broker")]


def build_router(settings: WriterSettings) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        PAGE_SUBJECTS,
        stream=JStream(PAGES_STREAM, declare=False),
        durable=WRITER_DURABLE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        max_workers=settings.concurrency,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # FastStream would pull on the shared "_INBOX." whatever the connection's prefix.
        inbox_prefix=f"{settings.nats.inbox}.".encode(),
    )
    async def write_page(
        page: PageBatch, msg: NatsMessage, writer: PageWriterDep, broker: BrokerDep
    ) -> None:
        annotate_run(page, page.page_no)
        family = str(page.family)
        try:
            result = await writer.write(page, current_trace_id())
        except (MalformedRecordError, UnsupportedFamilyError) as exc:
            # Retrying cannot fix the data; hold it back long so operators can see it.
            ERRORS.labels("writer", "malformed").inc()
            log.error("page %s of run %s refused: %s", page.page_no, page.run_id, exc)
            raise NackMessage(delay=300) from exc
        except Exception as exc:
            # The database or anything unforeseen: the transaction rolled back; try again later.
            ERRORS.labels("writer", type(exc).__name__).inc()
            log.exception("page %s of run %s not written", page.page_no, page.run_id)
            raise NackMessage(delay=retry_delay(delivery_attempt(msg))) from exc
        if result.duplicate:
            log.info("page %s of run %s was already written", page.page_no, page.run_id)
            PAGES.labels(family, "duplicate").inc()
        if result.counts is not None:
            PAGES.labels(family, "written").inc()
            ROWS.labels(family, "inserted").inc(result.counts.inserted)
            ROWS.labels(family, "changed").inc(result.counts.changed)
            ROWS.labels(family, "unchanged").inc(result.counts.unchanged)
        if result.completed is not None:
            RUNS_COMPLETED.labels(family).inc()
            # After the commit: a lost event only delays the scheduler's next tick.
            try:
                await broker.publish(encoded(result.completed), result.completed.subject)
            except Exception as exc:
                log.warning("run %s completed, but its event was not sent: %s", page.run_id, exc)

    return router
