"""Composition root: ``faststream run token_service.app:create_app --factory``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from faststream import FastStream
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from common.bus import build_broker
from common.db.engine import build_engine, build_sessionmaker
from common.telemetry import build_tracer_provider, configure_logging
from token_service.crypto import KeyRing
from token_service.handlers import router
from token_service.oauth import OAuthClient
from token_service.service import TokenService
from token_service.settings import TokenServiceSettings

SERVICE = "token-service"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: TokenServiceSettings | None = None) -> FastStream:
    settings = settings or TokenServiceSettings()
    configure_logging(SERVICE, settings.telemetry)
    tracer_provider = build_tracer_provider(SERVICE, settings.telemetry)
    broker = build_broker(SERVICE, settings.nats, tracer_provider)
    broker.include_router(router)
    app = FastStream(broker)
    engine = build_engine(settings.database)
    http = httpx.AsyncClient(timeout=settings.ebay.request_timeout_seconds)
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=tracer_provider)
    service = TokenService(
        build_sessionmaker(engine),
        KeyRing(settings.keys, settings.active_key_id),
        OAuthClient(http, settings.ebay),
        scopes=settings.scopes,
        refresh_ahead=timedelta(seconds=settings.refresh_ahead_seconds),
        clock=utc_now,
    )
    app.context.set_global("token_service", service)

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()
        await engine.dispose()

    return app
