"""Composition root of the writer: ``faststream run writer.app:create_app --factory``."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream import FastStream
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

from common.bus import build_broker
from common.db.engine import build_engine, build_sessionmaker
from common.streams import ensure_topology
from common.telemetry import build_tracer_provider, configure_logging
from writer.handlers import build_router
from writer.service import PageWriter
from writer.settings import WriterSettings

SERVICE = "writer"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: WriterSettings | None = None) -> FastStream:
    settings = settings or WriterSettings()
    configure_logging(SERVICE, settings.telemetry)
    tracer_provider = build_tracer_provider(SERVICE, settings.telemetry)
    AsyncPGInstrumentor().instrument(tracer_provider=tracer_provider)  # type: ignore[no-untyped-call]
    broker = build_broker(SERVICE, settings.nats, tracer_provider)
    broker.include_router(build_router(settings))
    app = FastStream(broker)
    engine = build_engine(settings.database)
    app.context.set_global("page_writer", PageWriter(build_sessionmaker(engine), utc_now))

    @app.on_startup
    async def bind() -> None:
        await broker.connect()
        await ensure_topology(broker.config.connection_state.stream)

    @app.after_shutdown
    async def close() -> None:
        await engine.dispose()

    return app
