"""The writer's subscriber: one durable pull consumer shared by every replica."""

from __future__ import annotations

import logging
from typing import Annotated

from faststream.nats import NatsBroker, NatsRouter

from common.bus import Delivery, LoopContext, durable_subscription
from common.deadletter import MaxDeliveriesAdvisory, publish_dead_letter
from common.failures import Action, FailurePolicy, Failures, Outcomes, Store
from common.intake import refuse_poison
from common.messages import DeadLetter, PageBatch, WindowFailed, encoded
from common.metrics import PAGES, ROWS, RUNS_COMPLETED
from common.redelivery import retry_delay
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

__all__ = ["RefusedPageError", "bookkeeping_router", "build_router", "pages_router"]

RecorderDep = Annotated[FailureRecorder, LoopContext("failure_recorder")]
MoverDep = Annotated[DeadLetterMover, LoopContext("dead_letter_mover")]

SERVICE = "writer"
# One writer replica handles each core event (failed attempts).
QUEUE_GROUP = "writer"
# Retrying cannot fix the data: straight to the dead letters, where operators see it; once the
# cause is fixed, repairing the pair fetches it again (ADR 0008).
REFUSED = (MalformedRecordError, UnsupportedFamilyError, RefusedPageError)
POLICY = FailurePolicy(permanent=REFUSED, labels=dict.fromkeys(REFUSED, "malformed"))
# What became of the pages (ebaysync_pages_total).
OUTCOMES = Outcomes(PAGES, {Action.DEAD_LETTER: "dead_lettered"})


def build_router(
    settings: WriterSettings, broker: NatsBroker, writer: PageWriter, gate: PageGate
) -> NatsRouter:
    """The writer's two rooms: the page path, and the run bookkeeping around it (dead letters,
    failed attempts, moves of exhausted messages). Built from the settings because the
    subscribers' options (concurrency, inbox prefix) are settings (ADR 0020)."""
    router = NatsRouter()
    store = _dead_letter_store(settings)
    router.include_router(pages_router(settings, broker, writer, gate, store))
    router.include_router(bookkeeping_router(settings, broker, store))
    return router


def _dead_letter_store(settings: WriterSettings) -> Store:
    async def store(broker: NatsBroker, letter: DeadLetter) -> None:
        await publish_dead_letter(broker, letter, settings.nats.publish_timeout_seconds)

    return store


def pages_router(
    settings: WriterSettings,
    broker: NatsBroker,
    writer: PageWriter,
    gate: PageGate,
    store: Store,
) -> NatsRouter:
    """The page path. Its parts are bound here, in the closure: nothing to resolve per page."""
    failures = Failures(SERVICE, POLICY, store, log, OUTCOMES)
    # A body that is no PageBatch of its subject's pair: dead letter at the first delivery.
    pages = NatsRouter(middlewares=[refuse_poison(PageBatch, store, retry_delay)])

    @pages.subscriber(
        PAGE_SUBJECTS,
        max_workers=settings.concurrency,
        **durable_subscription(PAGES_STREAM, WRITER_DURABLE, settings.nats),
    )
    async def write_page(page: PageBatch, msg: Delivery) -> None:
        annotate_run(page, page.page_no)
        family = str(page.family)
        async with failures.guard(
            msg,
            broker,
            f"page {page.page_no} of run {page.run_id}",
            family=family,
            account_id=page.account_id,
        ):
            refusal = await gate.refusal(page)
            if refusal is not None:
                raise RefusedPageError(refusal)
            result = await writer.write(page, current_trace_id())
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

    return pages


def bookkeeping_router(settings: WriterSettings, broker: NatsBroker, store: Store) -> NatsRouter:
    """Run bookkeeping and moves: nothing there is the message's fault, so everything is
    retried."""
    router = NatsRouter()
    bookkeeping = Failures(SERVICE, FailurePolicy(), store, log)

    @router.subscriber(
        DLQ_SUBJECTS,
        **durable_subscription(DLQ_STREAM, FAILURES_DURABLE, settings.nats),
    )
    async def record_dead_letter(letter: DeadLetter, msg: Delivery, recorder: RecorderDep) -> None:
        """Every dead letter, whoever stored it: its run failed, its pair failed once more."""
        async with bookkeeping.guard(msg, broker, f"dead letter of {letter.original_subject}"):
            await recorder.dead_lettered(letter)

    @router.subscriber(f"{WindowFailed.SUBJECT_PREFIX}.>", queue=QUEUE_GROUP)
    async def window_failed(event: WindowFailed, recorder: RecorderDep) -> None:
        """A failed fetch attempt counts towards the pair's circuit breaker."""
        await recorder.attempt_failed(event)

    @router.subscriber(
        f"{MAX_DELIVERIES_PREFIX}.>",
        **durable_subscription(ADVISORIES_STREAM, MOVER_DURABLE, settings.nats),
    )
    async def max_deliveries(
        advisory: MaxDeliveriesAdvisory, msg: Delivery, mover: MoverDep
    ) -> None:
        """A window or page its consumer gave up on: dead-letter it and free its pair.

        The advisory is stored (``SYNC_ADVISORIES``): a failed move is retried, never lost.
        """
        async with bookkeeping.guard(msg, broker, f"{advisory.stream} #{advisory.stream_seq}"):
            await mover.move(advisory)

    return router
