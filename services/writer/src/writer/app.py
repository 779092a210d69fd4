"""Composition root of the writer: ``faststream run writer.app:create_app --factory``."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider

from common.clock import FollowingClock, utc_now
from common.db.engine import build_engine, build_sessionmaker
from common.service import build_service
from common.tasks import cancel_and_wait
from writer.deadletters import DeadLetterMover, FailureRecorder
from writer.handlers import build_router
from writer.service import PageWriter
from writer.settings import WriterSettings
from writer.validation import PageGate

SERVICE = "writer"
# How often the deployment's clock is re-read when it is a remote one.
CLOCK_SYNC_SECONDS = 10.0


def create_app(
    settings: WriterSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastStream:
    settings = settings or WriterSettings()
    service = build_service(SERVICE, settings, tracer_provider, traces_sql=True)
    app = service.app
    # No ping per transaction: after a database restart a page fails once and is redelivered.
    engine = build_engine(settings.database, pre_ping=False)
    sessions = build_sessionmaker(engine)
    following = FollowingClock(settings.clock_url) if settings.clock_url else None
    gate = PageGate(
        following.now if following else utc_now,
        timedelta(seconds=settings.future_skew_seconds),
        following.sync if following else None,
    )
    writer = PageWriter(sessions, utc_now)
    service.broker.include_router(build_router(settings, service.broker, writer, gate))
    app.context.set_global("failure_recorder", FailureRecorder(sessions, utc_now, settings.breaker))
    app.context.set_global(
        "dead_letter_mover",
        DeadLetterMover(service.broker, sessions, utc_now, settings.nats.publish_timeout_seconds),
    )

    clock_task: asyncio.Task[None] | None = None

    async def follow(clock: FollowingClock) -> None:
        while True:
            await asyncio.sleep(CLOCK_SYNC_SECONDS)
            await clock.sync()

    @app.on_startup
    async def read_clock() -> None:
        nonlocal clock_task
        if following is not None:
            await following.sync()  # before the first page is judged
            clock_task = asyncio.create_task(follow(following))

    @app.after_shutdown
    async def close() -> None:
        await cancel_and_wait(clock_task)
        if following is not None:
            await following.aclose()
        await engine.dispose()

    return app
