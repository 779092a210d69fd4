"""The fetcher's subscriber: one durable pull consumer shared by every replica."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from faststream import AckPolicy, Context
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsMessage, NatsRouter, PullSub

from common.ebay.errors import EbayError, EbayTransientError
from common.messages import SyncWindow
from common.metrics import ERRORS, PAGES, WINDOWS
from common.redelivery import delivery_attempt, retry_delay
from common.streams import FETCHER_DURABLE, WINDOW_SUBJECTS, WINDOWS_STREAM
from common.telemetry import annotate_run
from fetcher.service import UnsupportedFamilyError, WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.tokens import TokenUnavailableError

log = logging.getLogger(__name__)
SERVICE = "fetcher"

WindowFetcherDep = Annotated[WindowFetcher, Context("window_fetcher")]


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

    @router.subscriber(
        WINDOW_SUBJECTS,
        stream=JStream(WINDOWS_STREAM, declare=False),
        durable=FETCHER_DURABLE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        max_workers=settings.concurrency,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # FastStream would pull on the shared "_INBOX." whatever the connection's prefix.
        inbox_prefix=f"{settings.nats.inbox}.".encode(),
    )
    async def fetch_window(window: SyncWindow, msg: NatsMessage, fetcher: WindowFetcherDep) -> None:
        annotate_run(window)
        attempt = delivery_attempt(msg)
        family = str(window.family)
        try:
            async with keep_in_progress(msg, settings.progress_seconds):
                pages = await fetcher.fetch(window)
        except UnsupportedFamilyError as exc:
            # A command for a family this build does not fetch: no retry can help.
            ERRORS.labels(SERVICE, "unsupported").inc()
            log.error("dropping run %s: %s", window.run_id, exc)
            WINDOWS.labels(family, "dropped").inc()
            raise RejectMessage from exc
        except TokenUnavailableError as exc:
            ERRORS.labels(SERVICE, "token").inc()
            if exc.is_permanent:
                # The scheduler stops scheduling such accounts; this window can never succeed.
                log.warning("dropping run %s: %s", window.run_id, exc)
                WINDOWS.labels(family, "dropped").inc()
                raise RejectMessage from exc
            WINDOWS.labels(family, "retried").inc()
            raise NackMessage(delay=retry_delay(attempt)) from exc
        except EbayTransientError as exc:
            ERRORS.labels(SERVICE, "transient").inc()
            WINDOWS.labels(family, "retried").inc()
            delay = retry_delay(attempt, exc.retry_after)
            log.warning("run %s: %s; retrying in %.0fs", window.run_id, exc, delay)
            raise NackMessage(delay=delay) from exc
        except EbayError as exc:
            ERRORS.labels(SERVICE, type(exc).__name__).inc()
            WINDOWS.labels(family, "retried").inc()
            log.error("run %s failed: %s", window.run_id, exc)
            raise NackMessage(delay=retry_delay(attempt + 4)) from exc
        except Exception as exc:
            # NATS, KV or anything unforeseen: hand the window back later, never at once.
            ERRORS.labels(SERVICE, type(exc).__name__).inc()
            WINDOWS.labels(family, "retried").inc()
            log.exception("run %s: unexpected failure", window.run_id)
            raise NackMessage(delay=retry_delay(attempt)) from exc
        WINDOWS.labels(family, "fetched").inc()
        PAGES.labels(family, "published").inc(pages)

    return router
