"""Composition root of the fetcher: ``faststream run fetcher.app:create_app --factory``."""

from __future__ import annotations

import httpx
from faststream import FastStream
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from common.bus import build_broker
from common.ebay.fulfillment import FulfillmentClient
from common.messages import PageBatch, encoded
from common.streams import BUCKETS, PAGES_STREAM, ensure_topology
from common.telemetry import build_tracer_provider, configure_logging
from fetcher.handlers import build_router
from fetcher.service import CheckpointStore, OrdersFetcher
from fetcher.settings import FetcherSettings
from fetcher.tokens import TokenClient

SERVICE = "fetcher"


def create_app(settings: FetcherSettings | None = None) -> FastStream:
    settings = settings or FetcherSettings()
    configure_logging(SERVICE, settings.telemetry)
    tracer_provider = build_tracer_provider(SERVICE, settings.telemetry)
    broker = build_broker(SERVICE, settings.nats, tracer_provider)
    broker.include_router(build_router(settings))
    app = FastStream(broker)
    http = httpx.AsyncClient(timeout=settings.ebay.request_timeout_seconds)
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=tracer_provider)

    async def publish_page(page: PageBatch) -> None:
        await broker.publish(
            encoded(page),
            page.subject,
            stream=PAGES_STREAM,
            headers={"Nats-Msg-Id": page.message_id, "content-type": "application/json"},
            timeout=settings.nats.publish_timeout_seconds,
        )

    @app.on_startup
    async def bind() -> None:
        await broker.connect()
        await ensure_topology(broker.config.connection_state.stream)
        kv = await broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
        app.context.set_global(
            "orders_fetcher",
            OrdersFetcher(
                TokenClient(broker, settings.token_timeout_seconds),
                FulfillmentClient(http, settings.ebay.api_base_url),
                CheckpointStore(kv),
                publish_page,
                page_size=settings.orders_page_size,
                max_page_bytes=settings.max_page_bytes,
                max_passes=settings.max_passes,
            ),
        )

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()

    return app
