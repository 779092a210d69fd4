"""Composition root of the admin API: ``uvicorn admin_api.app:create_app --factory``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import make_asgi_app
from starlette.types import Receive, Scope, Send

import common.metrics  # noqa: F401  (the ebaysync_* families, for one vocabulary everywhere)
from admin_api.alerts.job import start_alerts
from admin_api.bootstrap import bootstrap_admin
from admin_api.context import AdminContext
from admin_api.headers import SecurityHeaders
from admin_api.jobs import start_jobs, stop_jobs
from admin_api.live import ChangeFeed, Heartbeats, StreamSlots, subscribe
from admin_api.notifications import NotificationKeys
from admin_api.push_subscriptions import subscription_manager
from admin_api.routes import (
    accounts,
    alerts,
    auth,
    budget,
    control,
    deadletters,
    docs,
    events,
    families,
    health,
    live,
    oauth,
    ops,
    push,
    push_status,
    retention,
    runall,
    runs,
    tokens,
    ui,
    users,
    webhooks,
    workers,
)
from admin_api.routes.docs import SWAGGER_UI_DIR
from admin_api.routes.ui import UI_DIR
from admin_api.settings import AdminApiSettings
from common.bus import build_broker
from common.clock import FollowingClock, utc_now
from common.db.engine import build_engine, build_sessionmaker
from common.heap import tune_collector
from common.streams import ensure_topology
from common.telemetry import build_tracer_provider, configure_logging

SERVICE = "admin-api"


class AdminApp(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's own 500 page
    included (a middleware added the usual way sits inside that one). Wrapped around the call,
    not the middleware stack: OpenTelemetry's instrumentation rebuilds that stack and refuses
    one that does not start with Starlette's ServerErrorMiddleware."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await SecurityHeaders(super().__call__)(scope, receive, send)


def create_app(
    settings: AdminApiSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    settings = settings or AdminApiSettings()
    configure_logging(SERVICE, settings.telemetry)
    tune_collector()
    tracer_provider = tracer_provider or build_tracer_provider(SERVICE, settings.telemetry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_engine(settings.database)
        sessions = build_sessionmaker(engine)
        # Publishes commands and requests; its only subscriptions are core ones (live.py).
        broker = build_broker(SERVICE, settings.nats, tracer_provider)
        await broker.connect()
        http = httpx.AsyncClient(timeout=settings.ebay.request_timeout_seconds)
        HTTPXClientInstrumentor.instrument_client(http, tracer_provider=tracer_provider)
        context = AdminContext(
            settings=settings,
            sessions=sessions,
            broker=broker,
            http=http,
            heartbeats=Heartbeats(),
            changes=ChangeFeed(),
            notification_keys=NotificationKeys(
                http,
                settings.ebay,
                settings.notification_key_cache_seconds,
                settings.notification_key_negative_cache_seconds,
                settings.notification_key_lookups_per_minute,
            ),
            tracer=tracer_provider.get_tracer(SERVICE),
            streams=StreamSlots(settings.live_streams_per_user),
            ebay_clock=FollowingClock(settings.clock_url) if settings.clock_url else None,
        )
        app.state.sessions = sessions
        app.state.broker = broker
        app.state.context = context
        subscriptions = []
        jobs = None
        alerts = None
        try:
            await ensure_topology(context.js)
            await bootstrap_admin(sessions, settings)
            subscriptions = await subscribe(
                broker.connection, context.heartbeats, context.changes, utc_now
            )
            jobs = start_jobs(sessions, settings, utc_now, subscription_manager(context))
            alerts = await start_alerts(sessions, http, settings, broker, utc_now)
            app.state.alert_job = alerts.job
            yield
        finally:
            if alerts is not None:
                await alerts.stop()
            await stop_jobs(jobs)
            for subscription in subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
            await http.aclose()
            if context.ebay_clock is not None:
                await context.ebay_clock.aclose()
            await broker.stop()
            await engine.dispose()

    app = AdminApp(
        title="ebaysync admin API",
        version="0.2.0",
        description="Operators' API of ebaysync; the web UI at / uses it. Sign in with "
        "POST /api/auth/login and send the token as Authorization: Bearer.",
        lifespan=lifespan,
        # /docs is our own page on pinned, local assets (routes/docs.py); ReDoc would load
        # its script from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    routers: tuple[ModuleType, ...] = (
        health,
        auth,
        users,
        runall,
        accounts,
        oauth,
        tokens,
        workers,
        families,
        control,
        runs,
        events,
        live,
        deadletters,
        alerts,
        retention,
        ops,
        webhooks,
        push,
        push_status,
        budget,
        docs,
        ui,
    )
    # A public ingress replica serves eBay's notification endpoints and its health only
    # (docs/adr/0018-push-notifications.md).
    if settings.push.ingress_only:
        routers = (health, push, webhooks)
    for module in routers:
        app.include_router(module.router)
    app.mount("/ui", StaticFiles(directory=UI_DIR), name="ui")
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    # Prometheus text, like every other service's METRICS_PORT, but on the API's own port.
    app.mount("/metrics", make_asgi_app())
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        excluded_urls="healthz,readyz,live,ui",
        exclude_spans=["send", "receive"],
    )
    return app
