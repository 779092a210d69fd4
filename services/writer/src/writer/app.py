"""Composition root of the writer: ``faststream run writer.app:create_app --factory``."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider

from common.db.engine import build_engine, build_sessionmaker
from common.service import build_service
from writer.deadletters import DeadLetterMover, FailureRecorder
from writer.handlers import build_router
from writer.service import PageWriter
from writer.settings import WriterSettings

SERVICE = "writer"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: WriterSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastStream:
    settings = settings or WriterSettings()
    service = build_service(SERVICE, settings, tracer_provider, traces_sql=True)
    service.broker.include_router(build_router(settings))
    app = service.app
    engine = build_engine(settings.database)
    sessions = build_sessionmaker(engine)
    app.context.set_global("page_writer", PageWriter(sessions, utc_now))
    app.context.set_global("failure_recorder", FailureRecorder(sessions, utc_now, settings.breaker))
    app.context.set_global(
        "dead_letter_mover",
        DeadLetterMover(service.broker, sessions, utc_now, settings.nats.publish_timeout_seconds),
    )

    @app.after_shutdown
    async def close() -> None:
        await engine.dispose()

    return app
