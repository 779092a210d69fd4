"""Settings of the scheduler."""

from __future__ import annotations

from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from common.families import IMPLEMENTED_FAMILIES, Family
from common.settings import NatsField, NatsSettings, PostgresField, PostgresSettings
from common.telemetry import TelemetryField, TelemetrySettings
from scheduler.domain import DEFAULT_LOOKBACK, LOOKBACK_LIMITS, WindowPolicy


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCHEDULER_", env_nested_delimiter="__", extra="ignore"
    )

    nats: NatsSettings = NatsField
    database: PostgresSettings = PostgresField
    telemetry: TelemetrySettings = TelemetryField

    tick_seconds: float = 5.0
    cadence_seconds: float = 300.0
    overlap_seconds: float = 600.0
    settle_lag_seconds: float = 120.0
    max_window_days: float = 7.0
    initial_backfill_days: float = 90.0
    # A queued or running run that has not moved for this long no longer blocks its pair.
    stale_run_seconds: float = 1800.0

    def policy(self, family: Family) -> WindowPolicy:
        return WindowPolicy(
            overlap=timedelta(seconds=self.overlap_seconds),
            initial_backfill=timedelta(days=self.initial_backfill_days),
            lookback_limit=LOOKBACK_LIMITS.get(family, DEFAULT_LOOKBACK),
            max_window=timedelta(days=self.max_window_days),
            settle_lag=timedelta(seconds=self.settle_lag_seconds),
            cadence=timedelta(seconds=self.cadence_seconds),
        )

    def policies(self) -> dict[Family, WindowPolicy]:
        return {family: self.policy(family) for family in IMPLEMENTED_FAMILIES}
