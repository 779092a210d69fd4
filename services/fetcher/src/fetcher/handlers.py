"""The fetcher's subscriber: one durable pull consumer shared by every replica."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from faststream.nats import NatsBroker, NatsMessage, NatsRouter

from common.bus import Broker, Delivery, LoopContext, durable_subscription
from common.deadletter import publish_dead_letter, reason_of
from common.failures import EBAY_PERMANENT, Action, FailurePolicy, Failures, Outcomes
from common.intake import refuse_poison
from common.messages import DeadLetter, SyncWindow, WindowFailed, encoded
from common.metrics import PAGES, WINDOWS
from common.redelivery import retry_delay
from common.streams import FETCHER_DURABLE, WINDOW_SUBJECTS, WINDOWS_STREAM
from common.telemetry import annotate_run
from fetcher.domain import OversizedRecordError
from fetcher.service import UnsupportedFamilyError, WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.tokens import TokenUnavailableError

log = logging.getLogger(__name__)
SERVICE = "fetcher"

WindowFetcherDep = Annotated[WindowFetcher, LoopContext("window_fetcher")]


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


# Failures no retry can fix: the window goes to the dead letters at once (docs/adr/0005): a
# family this build does not fetch, a request eBay refuses (4xx), a body that stayed unreadable,
# a record too big for any message. A token only the seller can fix (reconnect) says so itself;
# the scheduler then stops scheduling the account.
POLICY = FailurePolicy(
    permanent=(UnsupportedFamilyError, *EBAY_PERMANENT, OversizedRecordError),
    judged=(TokenUnavailableError,),
    labels={TokenUnavailableError: "token"},
)
# What became of the windows (ebaysync_windows_total).
OUTCOMES = Outcomes(
    WINDOWS,
    {
        Action.DEAD_LETTER: "dead_lettered",
        Action.RETRY: "retried",
        Action.WAIT: "waiting_for_quota",
    },
)


def failed_attempt(window: SyncWindow, exc: BaseException, attempt: int) -> WindowFailed:
    """The event a failed attempt is reported with (the writer counts it for the breaker)."""
    return WindowFailed(
        run_id=window.run_id,
        account_id=window.account_id,
        family=window.family,
        attempt=attempt,
        error=reason_of(exc),
        failed_at=datetime.now(UTC),
    )


def build_router(settings: FetcherSettings) -> NatsRouter:
    router = NatsRouter()

    async def store(broker: NatsBroker, letter: DeadLetter) -> None:
        await publish_dead_letter(broker, letter, settings.nats.publish_timeout_seconds)

    failures = Failures(SERVICE, POLICY, store, log, OUTCOMES)

    # A body that is no SyncWindow of its subject's pair: dead letter at the first delivery.
    windows = NatsRouter(middlewares=[refuse_poison(SyncWindow, store, retry_delay)])

    @windows.subscriber(
        WINDOW_SUBJECTS,
        max_workers=settings.concurrency,
        **durable_subscription(WINDOWS_STREAM, FETCHER_DURABLE, settings.nats),
    )
    async def fetch_window(
        window: SyncWindow, msg: Delivery, fetcher: WindowFetcherDep, broker: Broker
    ) -> None:
        annotate_run(window)
        family = str(window.family)

        async def report(exc: BaseException, attempt: int) -> None:
            event = failed_attempt(window, exc, attempt)
            await broker.publish(encoded(event), event.subject)

        async with (
            failures.guard(
                msg,
                broker,
                f"run {window.run_id}",
                family=family,
                account_id=window.account_id,
                report=report,
            ),
            keep_in_progress(msg, settings.progress_seconds),
        ):
            pages = await fetcher.fetch(window)
        WINDOWS.labels(family, "fetched").inc()
        PAGES.labels(family, "published").inc(pages)

    router.include_router(windows)
    return router
