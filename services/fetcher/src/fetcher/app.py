"""Composition root of the fetcher: ``faststream run fetcher.app:create_app --factory``."""

from __future__ import annotations

import httpx
from faststream import FastStream
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from common.control import CancelRequests
from common.ebay.learned import KvLimits
from common.ledger import CallCounter, CallLedger
from common.messages import PageBatch, encoded
from common.service import build_service
from common.streams import BUCKETS, PAGES_STREAM
from fetcher.checkpoints import CheckpointStore
from fetcher.handlers import build_router
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.sources import SourceContext, build_sources
from fetcher.sources.details import KvDigests
from fetcher.tokens import TokenClient

SERVICE = "fetcher"


def ebay_http_client(settings: FetcherSettings, calls: CallCounter) -> httpx.AsyncClient:
    """The one HTTP client all sources share; every request it sends is counted in ``calls``."""
    return httpx.AsyncClient(
        timeout=settings.ebay.request_timeout_seconds,
        event_hooks={"request": [calls.on_request]},
    )


def create_app(
    settings: FetcherSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastStream:
    settings = settings or FetcherSettings()
    service = build_service(SERVICE, settings, tracer_provider)
    broker, app = service.broker, service.app
    broker.include_router(build_router(settings))
    calls = CallCounter()
    http = ebay_http_client(settings, calls)
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=service.tracer_provider)

    async def publish_page(page: PageBatch) -> None:
        await broker.publish(
            encoded(page),
            page.subject,
            stream=PAGES_STREAM,
            headers={"Nats-Msg-Id": page.message_id, "content-type": "application/json"},
            timeout=settings.nats.publish_timeout_seconds,
        )

    # After build_service's own start-up hook (hooks run in order), before consuming starts.
    @app.on_startup
    async def bind() -> None:
        kv = await broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
        tokens = TokenClient(broker, settings.token_timeout_seconds)
        app.context.set_global(
            "window_fetcher",
            WindowFetcher(
                tokens,
                build_sources(
                    SourceContext(
                        http,
                        settings,
                        tokens,
                        KvLimits(
                            await broker.key_value(BUCKETS.learned_limits.bucket, declare=False)
                        ),
                        KvDigests(kv),
                    )
                ),
                CheckpointStore(kv),
                publish_page,
                max_page_bytes=settings.max_page_bytes,
                max_passes=settings.max_passes,
                page_retry=settings.page_retry,
                ledger=CallLedger(
                    await broker.key_value(BUCKETS.call_ledger.bucket, declare=False),
                    calls,
                    settings.call_ledger,
                ),
                cancels=CancelRequests(
                    await broker.key_value(BUCKETS.control.bucket, declare=False)
                ),
            ),
        )

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()

    return app
