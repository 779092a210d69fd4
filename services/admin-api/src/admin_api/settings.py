"""Settings of the admin API."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import NatsField, NatsSettings, PostgresField, PostgresSettings
from common.telemetry import TelemetryField, TelemetrySettings


class AdminApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADMIN_API_", env_nested_delimiter="__", extra="ignore"
    )

    nats: NatsSettings = NatsField
    database: PostgresSettings = PostgresField
    telemetry: TelemetrySettings = TelemetryField
