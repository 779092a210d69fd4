"""Composition root: ``faststream run token_service.app:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
from faststream import FastStream
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from common.db.engine import build_engine, build_sessionmaker
from common.service import build_service
from token_service.crypto import KeyRing
from token_service.handlers import router
from token_service.oauth import OAuthClient
from token_service.service import TokenService, sweep_forever
from token_service.settings import TokenServiceSettings
from token_service.signing_keys import SigningKeyService

SERVICE = "token-service"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: TokenServiceSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastStream:
    settings = settings or TokenServiceSettings()
    service = build_service(SERVICE, settings, tracer_provider, traces_sql=True)
    service.broker.include_router(router)
    app = service.app
    engine = build_engine(settings.database)
    http = httpx.AsyncClient(timeout=settings.ebay.request_timeout_seconds)
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=service.tracer_provider)
    tokens = TokenService(
        build_sessionmaker(engine),
        KeyRing(settings.keys, settings.active_key_id),
        OAuthClient(http, settings.ebay),
        scopes=settings.scopes,
        oauth_for=lambda environment: OAuthClient(
            http, settings.environments.keyset(environment, settings.ebay)
        ),
        refresh_ahead=timedelta(seconds=settings.refresh_ahead_seconds),
        sweep_interval=timedelta(seconds=settings.sweep_seconds),
        consent_warning=timedelta(days=settings.refresh_token_warning_days),
        clock=utc_now,
    )
    app.context.set_global("token_service", tokens)
    app.context.set_global(
        "signing_keys",
        SigningKeyService(
            build_sessionmaker(engine),
            KeyRing(settings.keys, settings.active_key_id),
            http,
            settings.ebay,
            clock=utc_now,
            keysets=lambda environment: settings.environments.keyset(environment, settings.ebay),
        ),
    )
    sweeping: asyncio.Task[None] | None = None

    @app.after_startup
    async def start_sweeping() -> None:
        nonlocal sweeping
        if settings.sweep_seconds > 0:
            interval = timedelta(seconds=settings.sweep_seconds)
            sweeping = asyncio.create_task(sweep_forever(tokens, interval))

    @app.on_shutdown
    async def stop_sweeping() -> None:
        if sweeping is not None:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()
        await engine.dispose()

    return app
