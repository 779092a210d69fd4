"""Settings of the writer."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from common.breaker import BreakerField, BreakerSettings
from common.metrics import MetricsField, MetricsSettings
from common.settings import NatsField, NatsSettings, PostgresField, PostgresSettings
from common.telemetry import TelemetryField, TelemetrySettings


class WriterSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WRITER_", env_nested_delimiter="__", extra="ignore"
    )

    nats: NatsSettings = NatsField
    database: PostgresSettings = PostgresField
    telemetry: TelemetrySettings = TelemetryField
    metrics: MetricsSettings = MetricsField
    # How often this instance announces itself on svc.heartbeat.<service>.
    heartbeat_seconds: float = 10.0

    # Pages written at once by one replica; each holds one database connection while it writes.
    concurrency: int = 4
    # When failures in a row pause a worker, and for how long (the writer records failures).
    breaker: BreakerSettings = BreakerField
