"""Settings of the fetcher."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from common.metrics import MetricsField, MetricsSettings
from common.settings import EbayApiSettings, EbayField, NatsField, NatsSettings
from common.telemetry import TelemetryField, TelemetrySettings


class FetcherSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FETCHER_", env_nested_delimiter="__", extra="ignore"
    )

    nats: NatsSettings = NatsField
    ebay: EbayApiSettings = EbayField
    telemetry: TelemetrySettings = TelemetryField
    metrics: MetricsSettings = MetricsField
    # How often this instance announces itself on svc.heartbeat.<service>.
    heartbeat_seconds: float = 10.0

    # Windows handled at once by one replica; one httpx client stays efficient up to about ten
    # concurrent requests (STACK-NOTES §9).
    concurrency: int = 4
    orders_page_size: int = 200
    # Pages are split below the server's 1 MiB max_payload with room for headers.
    max_page_bytes: int = 900_000
    # A result set that shrinks while we page may shift unseen rows to earlier offsets, so the
    # window is paged again; after this many unstable passes the window is retried later.
    max_passes: int = 3
    token_timeout_seconds: float = 15.0
    # How often a window being fetched tells JetStream it is still in progress.
    progress_seconds: float = 15.0
