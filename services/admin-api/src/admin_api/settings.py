"""Settings of the admin API (``ADMIN_API_*``, plus the shared ``NATS_*``, ``DATABASE_*``,
``EBAY_*``, ``OTEL_*`` and the scheduler's window policy ``SCHEDULER_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import (
    EbayApiSettings,
    EbayField,
    NatsField,
    NatsSettings,
    PostgresField,
    PostgresSettings,
    WindowField,
    WindowSettings,
)
from common.telemetry import TelemetryField, TelemetrySettings


class AlertSettings(BaseModel):
    """Notifications to people (``ADMIN_API_ALERTS__*``; docs/adr/0012-notifications.md)."""

    # How often every org's rules are evaluated (run events also wake it); 0 turns it off.
    interval_seconds: float = Field(default=30.0, ge=0)
    # After a run event, wait this long so the writer has committed what it announced.
    settle_seconds: float = Field(default=1.0, ge=0)
    # One SMTP or webhook call's timeout.
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    # Sends of one notice before it is marked failed.
    max_attempts: int = Field(default=5, ge=1)
    batch_size: int = Field(default=50, ge=1)


class AdminApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADMIN_API_", env_nested_delimiter="__", extra="ignore"
    )

    nats: NatsSettings = NatsField
    database: PostgresSettings = PostgresField
    telemetry: TelemetrySettings = TelemetryField
    ebay: EbayApiSettings = EbayField
    # The scheduler's window policy: "run now" and the schedule projection plan with it.
    window: WindowSettings = WindowField

    # Signs login tokens and OAuth states (HS256); at least 32 characters.
    jwt_secret: SecretStr = Field(min_length=32)
    jwt_ttl_seconds: int = Field(default=8 * 3600, gt=0)

    # With no user at all, start-up creates this org and its first admin.
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    bootstrap_org: str = "default"

    # Which eBay this deployment's keyset (EBAY_*) talks to; recorded on every connected account.
    ebay_environment: Literal["production", "sandbox"] = "production"
    oauth_state_ttl_seconds: float = Field(default=600.0, gt=0)
    # A refresh token that expires within this many days shows as "expiring soon".
    token_expiring_soon_days: float = Field(default=14.0, ge=0)
    token_request_timeout_seconds: float = Field(default=15.0, gt=0)

    # A link from each run to its trace in the tracing UI, e.g.
    # "http://localhost:16686/trace/{trace_id}" for Jaeger; unset shows the trace id only.
    trace_url_template: str | None = None

    # Log retention: runs, their page receipts and token refresh logs older than this go.
    retention_days: int = Field(default=30, ge=1)

    # Live updates poll the database this often (a completed run wakes them at once).
    live_poll_seconds: float = Field(default=2.0, gt=0)
    # A service whose last heartbeat is older than this many of its intervals is stale.
    heartbeat_stale_intervals: float = Field(default=3.0, gt=0)

    # eBay marketplace account-deletion notifications; the endpoint answers 404 until both are
    # set. The endpoint is the URL exactly as registered with eBay (it is part of the challenge).
    # eBay's rule: 32 to 80 characters of [A-Za-z0-9_-].
    deletion_verification_token: SecretStr | None = Field(
        default=None, min_length=32, max_length=80
    )
    deletion_endpoint: str | None = None
    # How long a notification signing key fetched from eBay is reused.
    notification_key_cache_seconds: float = Field(default=3600.0, ge=0)
    # Notifications to people: evaluation interval, send timeout, attempts.
    alerts: AlertSettings = Field(default_factory=AlertSettings)
