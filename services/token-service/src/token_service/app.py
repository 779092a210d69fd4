"""Composition root: ``faststream run token_service.app:create_app --factory``."""

from __future__ import annotations

from datetime import timedelta

import httpx
from faststream import FastStream
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from common.clock import utc_now
from common.db.engine import build_engine, build_sessionmaker
from common.jobs import HEALTH_CHECK, QUOTA_READ, TOKEN_SWEEP, Job, JobRunner
from common.ledger import CallCounter, CallLedger
from common.service import build_service
from common.streams import BUCKETS
from token_service.crypto import KeyRing
from token_service.handlers import router
from token_service.health import HealthChecker
from token_service.oauth import OAuthClient
from token_service.quotas import QuotaReader
from token_service.service import TokenService
from token_service.settings import TokenServiceSettings
from token_service.signing_keys import SigningKeyService

SERVICE = "token-service"


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
    # The health check's own client: its request hook counts every call for the ledger.
    calls = CallCounter()
    health_http = httpx.AsyncClient(
        timeout=settings.ebay.request_timeout_seconds,
        event_hooks={"request": [calls.on_request]},
    )
    HTTPXClientInstrumentor.instrument_client(health_http, tracer_provider=service.tracer_provider)
    runner: JobRunner | None = None

    async def sweep() -> str:
        return (await tokens.sweep()).summary()

    @app.after_startup
    async def start_jobs() -> None:
        nonlocal runner
        jobs = []
        if settings.sweep_seconds > 0:
            interval = timedelta(seconds=settings.sweep_seconds)
            # At once: tokens may have expired while the service was down.
            jobs.append(Job(TOKEN_SWEEP, interval, sweep, run_at_once=True))
        if settings.health_check_seconds > 0:
            ledger = CallLedger(
                await service.broker.key_value(BUCKETS.call_ledger.bucket, declare=False),
                calls,
                settings.call_ledger,
            )
            checker = HealthChecker(
                build_sessionmaker(engine),
                tokens,
                health_http,
                settings.ebay.apiz_base_url,
                ledger,
                utc_now,
            )
            interval = timedelta(seconds=settings.health_check_seconds)
            jobs.append(Job(HEALTH_CHECK, interval, checker.check_all))
        if settings.quota_read_seconds > 0:
            reader = QuotaReader(
                build_sessionmaker(engine),
                http,
                settings.ebay,
                settings.call_ledger.quotas,
                utc_now,
            )
            interval = timedelta(seconds=settings.quota_read_seconds)
            # At once: a fresh deployment plans with eBay's figures from its first hour.
            jobs.append(Job(QUOTA_READ, interval, reader.run, run_at_once=True))
        runner = JobRunner(
            build_sessionmaker(engine),
            jobs,
            utc_now,
            poll=timedelta(seconds=settings.jobs_poll_seconds),
        )
        runner.start()

    @app.on_shutdown
    async def stop_jobs() -> None:
        if runner is not None:
            await runner.stop()

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()
        await health_http.aclose()
        await engine.dispose()

    return app
