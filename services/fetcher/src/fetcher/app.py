"""Composition root of the fetcher: ``faststream run fetcher.app:create_app --factory``."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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
from common.tasks import cancel_and_wait
from fetcher.checkpoints import CheckpointStore
from fetcher.handlers import build_router
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.sources import SourceContext, build_sources
from fetcher.sources.details import KvDigests
from fetcher.tokens import TokenCachePolicy, TokenClient

SERVICE = "fetcher"


def ebay_http_client(settings: FetcherSettings, calls: CallCounter) -> httpx.AsyncClient:
    """A pooled keep-alive client for one eBay host; every request it sends is counted."""
    http = settings.http
    return httpx.AsyncClient(
        timeout=settings.ebay.request_timeout_seconds,
        limits=httpx.Limits(
            max_connections=http.max_connections,
            max_keepalive_connections=http.max_connections,
            keepalive_expiry=http.keepalive_seconds,
        ),
        event_hooks={"request": [calls.on_request]},
    )


class EbayHttpClients:
    """One pooled HTTP/1.1 keep-alive client per eBay host, shared by every window and closed
    at shutdown; every request they send is counted in ``calls``.

    A client per host keeps each connection pool small (httpx's pool bookkeeping grows with
    its size, STACK-NOTES §9) and a slow host from taking the other's connections.
    """

    def __init__(
        self,
        settings: FetcherSettings,
        calls: CallCounter,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._settings = settings
        self._calls = calls
        self._tracer_provider = tracer_provider
        self._clients: dict[str, httpx.AsyncClient] = {}

    def __call__(self, base_url: str) -> httpx.AsyncClient:
        url = httpx.URL(base_url)
        origin = f"{url.scheme}://{url.netloc.decode()}"
        client = self._clients.get(origin)
        if client is None:
            client = self._clients[origin] = ebay_http_client(self._settings, self._calls)
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self._tracer_provider)
        return client

    @property
    def hosts(self) -> list[str]:
        return list(self._clients)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def create_app(
    settings: FetcherSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastStream:
    settings = settings or FetcherSettings()
    service = build_service(SERVICE, settings, tracer_provider)
    broker, app = service.broker, service.app
    broker.include_router(build_router(settings))
    calls = CallCounter()
    clients = EbayHttpClients(settings, calls, service.tracer_provider)

    async def publish_page(page: PageBatch) -> None:
        await broker.publish(
            encoded(page),
            page.subject,
            stream=PAGES_STREAM,
            headers={"Nats-Msg-Id": page.message_id, "content-type": "application/json"},
            timeout=settings.nats.publish_timeout_seconds,
        )

    ledger: CallLedger | None = None
    flushing: asyncio.Task[None] | None = None

    # After build_service's own start-up hook (hooks run in order), before consuming starts.
    @app.on_startup
    async def bind() -> None:
        nonlocal ledger, flushing
        kv = await broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
        ledger = CallLedger(
            await broker.key_value(BUCKETS.call_ledger.bucket, declare=False),
            calls,
            settings.call_ledger,
        )
        if settings.call_ledger.flush_seconds > 0:
            flushing = asyncio.create_task(ledger.keep_flushing())
        cache = settings.token_cache
        tokens = TokenClient(
            broker,
            settings.token_timeout_seconds,
            cache=TokenCachePolicy(
                margin=timedelta(seconds=cache.margin_seconds),
                max_age=timedelta(seconds=cache.max_age_seconds),
            )
            if cache.max_age_seconds > 0
            else None,
        )
        app.context.set_global(
            "window_fetcher",
            WindowFetcher(
                tokens,
                build_sources(
                    SourceContext(
                        clients(settings.ebay.api_base_url),
                        settings,
                        tokens,
                        KvLimits(
                            await broker.key_value(BUCKETS.learned_limits.bucket, declare=False)
                        ),
                        KvDigests(kv),
                        clients,
                    )
                ),
                CheckpointStore(kv),
                publish_page,
                max_page_bytes=settings.max_page_bytes,
                max_passes=settings.max_passes,
                page_retry=settings.page_retry,
                ledger=ledger,
                cancels=CancelRequests(
                    await broker.key_value(BUCKETS.control.bucket, declare=False)
                ),
            ),
        )

    # Before the broker stops: windows still finishing then store their counts themselves.
    @app.on_shutdown
    async def store_counts() -> None:
        await cancel_and_wait(flushing)
        if ledger is not None:
            await ledger.close()

    @app.after_shutdown
    async def close() -> None:
        await clients.aclose()

    return app
