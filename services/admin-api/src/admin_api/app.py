"""Composition root of the admin API: ``uvicorn admin_api.app:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.nats import NatsBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from admin_api.routes import accounts, health
from admin_api.settings import AdminApiSettings
from common.db.engine import build_engine, build_sessionmaker
from common.telemetry import build_tracer_provider, configure_logging

SERVICE = "admin-api"


def create_app(settings: AdminApiSettings | None = None) -> FastAPI:
    settings = settings or AdminApiSettings()
    configure_logging(SERVICE, settings.telemetry)
    tracer_provider = build_tracer_provider(SERVICE, settings.telemetry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_engine(settings.database)
        # The admin API only publishes and requests; it starts no subscribers.
        broker = NatsBroker(settings.nats.url, name=SERVICE, max_reconnect_attempts=-1)
        await broker.connect()
        app.state.sessions = build_sessionmaker(engine)
        app.state.broker = broker
        try:
            yield
        finally:
            await broker.stop()
            await engine.dispose()

    app = FastAPI(title="ebaysync admin API", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(accounts.router)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, excluded_urls="healthz,readyz"
    )
    return app
