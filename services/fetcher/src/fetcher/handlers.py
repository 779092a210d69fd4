"""The fetcher's subscriber: one durable pull consumer shared by every replica."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn

from faststream import AckPolicy, Context
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsRouter, PullSub

from common.deadletter import dead_letter_of_delivery, publish_dead_letter, reason_of
from common.ebay.errors import (
    EbayError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from common.intake import refuse_poison
from common.messages import DeadLetter, SyncWindow, WindowFailed, encoded
from common.metrics import ERRORS, PAGES, WINDOWS
from common.redelivery import delivery_attempt, retry_delay
from common.streams import FETCHER_DURABLE, WINDOW_SUBJECTS, WINDOWS_STREAM
from common.telemetry import annotate_run
from fetcher.domain import OversizedRecordError
from fetcher.service import UnsupportedFamilyError, WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.tokens import TokenUnavailableError

log = logging.getLogger(__name__)
SERVICE = "fetcher"

WindowFetcherDep = Annotated[WindowFetcher, Context("window_fetcher")]
BrokerDep = Annotated[NatsBroker, Context("broker")]

# Failures no retry can fix: the window goes to the dead letters at once (docs/adr/0005).
# EbayPayloadError arrives here only after the in-page retries also got unreadable bodies.
PERMANENT_ERRORS = (
    UnsupportedFamilyError,
    EbayRequestError,
    EbayPayloadError,
    OversizedRecordError,
)


@asynccontextmanager
async def keep_in_progress(msg: NatsMessage, every: float) -> AsyncIterator[None]:
    """Keep telling JetStream the window is being worked on, so it is not redelivered."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            await msg.in_progress()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


def build_router(settings: FetcherSettings) -> NatsRouter:
    router = NatsRouter()

    async def dead_letter(
        window: SyncWindow, msg: NatsMessage, broker: NatsBroker, exc: Exception
    ) -> NoReturn:
        """No retry can help: store the window in the dead letters, then TERM it.

        TERM removes it from the work queue, so the pair is free for its next window; the
        writer marks the run failed when it records the dead letter.
        """
        log.error("run %s dead-lettered: %s", window.run_id, exc)
        letter = dead_letter_of_delivery(
            msg, reason_of(exc), datetime.now(UTC), account_id=window.account_id
        )
        try:
            await publish_dead_letter(broker, letter, settings.nats.publish_timeout_seconds)
        except Exception as publish_exc:
            # Never drop a window unrecorded: keep it and dead-letter it on the next delivery.
            log.warning("run %s not dead-lettered yet: %s", window.run_id, publish_exc)
            raise NackMessage(delay=retry_delay(delivery_attempt(msg))) from exc
        WINDOWS.labels(str(window.family), "dead_lettered").inc()
        raise RejectMessage from exc

    async def retry_later(
        window: SyncWindow, msg: NatsMessage, broker: NatsBroker, exc: Exception, delay: float
    ) -> NoReturn:
        """Hand the window back after ``delay`` and report the failed attempt (circuit breaker)."""
        WINDOWS.labels(str(window.family), "retried").inc()
        event = WindowFailed(
            run_id=window.run_id,
            account_id=window.account_id,
            family=window.family,
            attempt=delivery_attempt(msg),
            error=reason_of(exc),
            failed_at=datetime.now(UTC),
        )
        try:
            await broker.publish(encoded(event), event.subject)
        except Exception as publish_exc:
            # Best effort: the breaker then opens one failure later.
            log.warning("failed attempt of run %s not reported: %s", window.run_id, publish_exc)
        raise NackMessage(delay=delay) from exc

    async def store(broker: NatsBroker, letter: DeadLetter) -> None:
        await publish_dead_letter(broker, letter, settings.nats.publish_timeout_seconds)

    # A body that is no SyncWindow of its subject's pair: dead letter at the first delivery.
    windows = NatsRouter(middlewares=[refuse_poison(SyncWindow, store, retry_delay)])

    @windows.subscriber(
        WINDOW_SUBJECTS,
        stream=JStream(WINDOWS_STREAM, declare=False),
        durable=FETCHER_DURABLE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        max_workers=settings.concurrency,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # FastStream would pull on the shared "_INBOX." whatever the connection's prefix.
        inbox_prefix=f"{settings.nats.inbox}.".encode(),
    )
    async def fetch_window(
        window: SyncWindow, msg: NatsMessage, fetcher: WindowFetcherDep, broker: BrokerDep
    ) -> None:
        annotate_run(window)
        attempt = delivery_attempt(msg)
        family = str(window.family)
        try:
            async with keep_in_progress(msg, settings.progress_seconds):
                pages = await fetcher.fetch(window)
        except PERMANENT_ERRORS as exc:
            # A family this build does not fetch, a request eBay refuses (4xx), a body that
            # stayed unreadable, a record too big for any message: no retry can help.
            ERRORS.labels(SERVICE, type(exc).__name__).inc()
            await dead_letter(window, msg, broker, exc)
        except TokenUnavailableError as exc:
            ERRORS.labels(SERVICE, "token").inc()
            if exc.is_permanent:
                # Only the seller can fix it (reconnect); the scheduler stops scheduling them.
                await dead_letter(window, msg, broker, exc)
            await retry_later(window, msg, broker, exc, retry_delay(attempt))
        except EbayQuotaError as exc:
            # Not the account's failure: the window waits for the quota's reset, holding its
            # pair (and only that pair) until then; the circuit breaker is not told.
            WINDOWS.labels(family, "waiting_for_quota").inc()
            delay = retry_delay(attempt, exc.retry_after)
            log.warning("run %s: %s; waiting %.0fs for the quota", window.run_id, exc, delay)
            raise NackMessage(delay=delay) from exc
        except EbayTransientError as exc:
            ERRORS.labels(SERVICE, "transient").inc()
            delay = retry_delay(attempt, exc.retry_after)
            log.warning("run %s: %s; retrying in %.0fs", window.run_id, exc, delay)
            await retry_later(window, msg, broker, exc, delay)
        except EbayError as exc:
            # A 401 even with a fresh token: the token service may yet sort it out.
            ERRORS.labels(SERVICE, type(exc).__name__).inc()
            log.error("run %s failed: %s", window.run_id, exc)
            await retry_later(window, msg, broker, exc, retry_delay(attempt + 4))
        except Exception as exc:
            # NATS, KV or anything unforeseen: hand the window back later, never at once.
            ERRORS.labels(SERVICE, type(exc).__name__).inc()
            log.exception("run %s: unexpected failure", window.run_id)
            await retry_later(window, msg, broker, exc, retry_delay(attempt))
        WINDOWS.labels(family, "fetched").inc()
        PAGES.labels(family, "published").inc(pages)

    router.include_router(windows)
    return router
