"""The wiring every FastStream service shares, so a composition root holds only its own parts.

Logging, tracing, the broker, heartbeats, ``/metrics``, the JetStream topology and (for services
with a database) SQL tracing are set up the same way in every service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from faststream import FastStream
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from pydantic_settings import BaseSettings

from common.bus import build_broker
from common.heap import tune_collector
from common.heartbeat import attach_heartbeat
from common.metrics import MetricsField, MetricsSettings, serve_metrics
from common.settings import NatsField, NatsSettings
from common.streams import ensure_topology
from common.telemetry import (
    TelemetryField,
    TelemetrySettings,
    build_tracer_provider,
    configure_logging,
    instrument_asyncpg,
)


class ServiceSettings(Protocol):
    @property
    def nats(self) -> NatsSettings: ...
    @property
    def telemetry(self) -> TelemetrySettings: ...
    @property
    def metrics(self) -> MetricsSettings: ...
    @property
    def heartbeat_seconds(self) -> float: ...


class ServiceBaseSettings(BaseSettings):
    """:class:`ServiceSettings` declared once: each service's settings class derives from it and
    reads these under its own prefix (``FETCHER_HEARTBEAT_SECONDS``, ``WRITER_NATS__…``)."""

    nats: NatsSettings = NatsField
    telemetry: TelemetrySettings = TelemetryField
    metrics: MetricsSettings = MetricsField
    # How often this instance announces itself on svc.heartbeat.<service>.
    heartbeat_seconds: float = 10.0


@dataclass(frozen=True)
class Service:
    app: FastStream
    broker: NatsBroker
    tracer_provider: TracerProvider


def build_service(
    name: str,
    settings: ServiceSettings,
    tracer_provider: TracerProvider | None = None,
    *,
    traces_sql: bool = False,
) -> Service:
    """A FastStream app on a traced broker that announces itself and serves its metrics.

    ``traces_sql``: the service uses the database, so its statements are traced when the
    settings ask for it (``<SERVICE>_TELEMETRY__TRACE_SQL``); off by default, a span per
    statement being
    most of a page's tracing cost.
    """
    configure_logging(name, settings.telemetry)
    tune_collector()
    tracer_provider = tracer_provider or build_tracer_provider(name, settings.telemetry)
    broker = build_broker(name, settings.nats, tracer_provider)
    app = FastStream(broker)
    attach_heartbeat(app, broker, name, settings.heartbeat_seconds)
    undo: list[Callable[[], None]] = []

    @app.on_startup
    async def start() -> None:
        if traces_sql and settings.telemetry.trace_sql:
            undo.append(instrument_asyncpg(tracer_provider))
        serve_metrics(settings.metrics)
        await broker.connect()
        if settings.nats.declare_topology:
            # Idempotent create-or-update: every service may start first.
            await ensure_topology(broker.config.connection_state.stream)

    @app.after_shutdown
    async def stop() -> None:
        while undo:
            undo.pop()()

    return Service(app, broker, tracer_provider)
