"""The writer's subscriber: one durable pull consumer shared by every replica."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from faststream import AckPolicy, Context
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsRouter, PullSub

from common.deadletter import (
    MaxDeliveriesAdvisory,
    dead_letter_of_delivery,
    publish_dead_letter,
    reason_of,
)
from common.intake import refuse_poison
from common.messages import DeadLetter, PageBatch, WindowFailed, encoded
from common.metrics import ERRORS, PAGES, ROWS, RUNS_COMPLETED
from common.redelivery import delivery_attempt, retry_delay
from common.streams import (
    ADVISORIES_STREAM,
    DLQ_STREAM,
    DLQ_SUBJECTS,
    FAILURES_DURABLE,
    MAX_DELIVERIES_PREFIX,
    MOVER_DURABLE,
    PAGE_SUBJECTS,
    PAGES_STREAM,
    WRITER_DURABLE,
)
from common.telemetry import annotate_run, current_trace_id
from writer.deadletters import DeadLetterMover, FailureRecorder
from writer.domain import MalformedRecordError
from writer.service import PageWriter, UnsupportedFamilyError
from writer.settings import WriterSettings
from writer.validation import PageGate, RefusedPageError

log = logging.getLogger(__name__)

__all__ = ["RefusedPageError", "build_router"]

RecorderDep = Annotated[FailureRecorder, Context("failure_recorder")]
MoverDep = Annotated[DeadLetterMover, Context("dead_letter_mover")]

# One writer replica handles each core event (failed attempts).
QUEUE_GROUP = "writer"


def build_router(
    settings: WriterSettings, broker: NatsBroker, writer: PageWriter, gate: PageGate
) -> NatsRouter:
    """The writer's subscribers. The page handler's parts are bound here, not injected from the
    context: fast_depends resolves every ``Context`` argument in a worker thread, a thread hop
    per argument on every page (issue 12)."""
    router = NatsRouter()

    async def store(broker: NatsBroker, letter: DeadLetter) -> None:
        await publish_dead_letter(broker, letter, settings.nats.publish_timeout_seconds)

    # A body that is no PageBatch of its subject's pair: dead letter at the first delivery.
    pages = NatsRouter(middlewares=[refuse_poison(PageBatch, store, retry_delay)])

    @pages.subscriber(
        PAGE_SUBJECTS,
        stream=JStream(PAGES_STREAM, declare=False),
        durable=WRITER_DURABLE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        max_workers=settings.concurrency,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # FastStream would pull on the shared "_INBOX." whatever the connection's prefix.
        inbox_prefix=f"{settings.nats.inbox}.".encode(),
    )
    async def write_page(page: PageBatch, msg: NatsMessage) -> None:
        annotate_run(page, page.page_no)
        family = str(page.family)
        try:
            refusal = await gate.refusal(page)
            if refusal is not None:
                raise RefusedPageError(refusal)
            result = await writer.write(page, current_trace_id())
        except (MalformedRecordError, UnsupportedFamilyError, RefusedPageError) as exc:
            # Retrying cannot fix the data: straight to the dead letters, where operators see
            # it; once the cause is fixed, repairing the pair fetches it again (ADR 0008).
            ERRORS.labels("writer", "malformed").inc()
            log.error("page %s of run %s refused: %s", page.page_no, page.run_id, exc)
            letter = dead_letter_of_delivery(
                msg, reason_of(exc), datetime.now(UTC), account_id=page.account_id
            )
            try:
                await store(broker, letter)
            except Exception as publish_exc:
                log.warning(
                    "page %s of run %s not dead-lettered yet: %s",
                    page.page_no,
                    page.run_id,
                    publish_exc,
                )
                raise NackMessage(delay=retry_delay(delivery_attempt(msg))) from exc
            PAGES.labels(family, "dead_lettered").inc()
            raise RejectMessage from exc
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

    router.include_router(pages)

    @router.subscriber(
        DLQ_SUBJECTS,
        stream=JStream(DLQ_STREAM, declare=False),
        durable=FAILURES_DURABLE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        inbox_prefix=f"{settings.nats.inbox}.".encode(),
    )
    async def record_dead_letter(
        letter: DeadLetter, msg: NatsMessage, recorder: RecorderDep
    ) -> None:
        """Every dead letter, whoever stored it: its run failed, its pair failed once more."""
        try:
            await recorder.dead_lettered(letter)
        except Exception as exc:
            ERRORS.labels("writer", type(exc).__name__).inc()
            log.exception("dead letter of %s not recorded", letter.original_subject)
            raise NackMessage(delay=retry_delay(delivery_attempt(msg))) from exc

    @router.subscriber(f"{WindowFailed.SUBJECT_PREFIX}.>", queue=QUEUE_GROUP)
    async def window_failed(event: WindowFailed, recorder: RecorderDep) -> None:
        """A failed fetch attempt counts towards the pair's circuit breaker."""
        await recorder.attempt_failed(event)

    @router.subscriber(
        f"{MAX_DELIVERIES_PREFIX}.>",
        stream=JStream(ADVISORIES_STREAM, declare=False),
        durable=MOVER_DURABLE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        inbox_prefix=f"{settings.nats.inbox}.".encode(),
    )
    async def max_deliveries(
        advisory: MaxDeliveriesAdvisory, msg: NatsMessage, mover: MoverDep
    ) -> None:
        """A window or page its consumer gave up on: dead-letter it and free its pair.

        The advisory is stored (``SYNC_ADVISORIES``): a failed move is retried, never lost.
        """
        try:
            await mover.move(advisory)
        except Exception as exc:
            ERRORS.labels("writer", type(exc).__name__).inc()
            log.exception("%s #%s not moved yet", advisory.stream, advisory.stream_seq)
            raise NackMessage(delay=retry_delay(delivery_attempt(msg))) from exc

    return router
