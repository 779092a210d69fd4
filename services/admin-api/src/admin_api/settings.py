"""Settings of the admin API (``ADMIN_API_*``, plus the shared ``NATS_*``, ``DATABASE_*``,
``EBAY_*``, ``OTEL_*`` and the scheduler's window policy ``SCHEDULER_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.environments import EbayEnvironments, EnvironmentsField
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


class PushSettings(BaseModel):
    """eBay push notifications (``ADMIN_API_PUSH__*``; docs/adr/0018-push-notifications.md).

    Off by default: a production deploy turns it on once ``public_url`` is reachable by eBay;
    ``make up`` turns it on against the sandbox.
    """

    enabled: bool = False
    # Where eBay reaches this deployment's ingress, e.g. "https://sync.example.com": the
    # endpoints are <public_url>/ebay/notifications/rest and .../trading.
    public_url: str = "http://localhost:8000"
    # createDestination's verification token (eBay's rule: 32 to 80 of [A-Za-z0-9_-]).
    verification_token: SecretStr = Field(
        default=SecretStr("ebaysync-push-verification-token-0000"),
        min_length=32,
        max_length=80,
    )
    # A REST notification published longer ago than this is refused (409) as a replay; eBay
    # resends for about a day (contracts §5).
    max_age_seconds: float = Field(default=2 * 86400.0, gt=0)
    # Trading: the keyset's DevID (the signature is MD5 of Timestamp + DevID + AppID + CertID)
    # and the timestamp tolerance (10 minutes, UNCONFIRMED: contracts §7.4).
    trading_dev_id: str = ""
    trading_max_age_seconds: float = Field(default=600.0, gt=0)
    # A replica that serves only the ingress (and health): the public one, apart from the
    # operators' API and UI.
    ingress_only: bool = False
    # The subscriptions job (admin_api.push_subscriptions): every this many seconds it creates,
    # repairs and removes the destination and subscriptions at eBay (0: off).
    subscriptions_seconds: float = Field(default=600.0, ge=0)
    # A seller whose subscriptions eBay confirmed this recently is not asked again (new sellers,
    # changed consents and failures still are, every run): the check costs each seller several
    # calls, one of them on the Trading quota (0: check every seller every run).
    recheck_seconds: float = Field(default=86400.0, ge=0)
    # getConfig's alert e-mail, set by updateConfig when the application has none yet (eBay
    # needs one before any destination); empty: leave eBay's config alone.
    alert_email: str = ""
    # The Workers page shows a pair as "live" while a notification of it arrived this recently.
    live_minutes: float = Field(default=30.0, gt=0)


class AdminApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADMIN_API_", env_nested_delimiter="__", extra="ignore"
    )

    nats: NatsSettings = NatsField
    database: PostgresSettings = PostgresField
    telemetry: TelemetrySettings = TelemetryField
    ebay: EbayApiSettings = EbayField
    # The keysets and hosts of production and sandbox accounts (EBAY_PRODUCTION_*, EBAY_SANDBOX_*).
    environments: EbayEnvironments = EnvironmentsField
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

    # eBay's time for the push ingress (signature timestamps, notification ages): the clock
    # served here; `ebaysync up` points it at the sandbox's /sandbox/clock, like
    # SCHEDULER_CLOCK_URL. Unset: the machine's time.
    clock_url: str | None = None

    # A link from each run to its trace in the tracing UI, e.g.
    # "http://localhost:16686/trace/{trace_id}" for Jaeger; unset shows the trace id only.
    trace_url_template: str | None = None

    # Log retention: runs, their page receipts and token refresh logs older than this go.
    retention_days: int = Field(default=30, ge=1)
    # The background job retention_purge applies it to every org this often (0: never; the
    # purge button works either way). Replicas look for due jobs every jobs_poll_seconds.
    retention_purge_seconds: float = Field(default=86400.0, ge=0)
    jobs_poll_seconds: float = Field(default=5.0, gt=0)

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
    # Unknown key ids: each is looked up at most once per this interval (a 404 or a failure
    # is remembered), and at most this many new ids per minute reach eBay at all.
    notification_key_negative_cache_seconds: float = Field(default=300.0, ge=0)
    notification_key_lookups_per_minute: int = Field(default=10, ge=1)
    # Deletion notices: bodies beyond this are refused unread (eBay's are about 1 KiB) ...
    webhook_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # ... JSON nested deeper than this is refused before it is parsed ...
    webhook_max_json_depth: int = Field(default=32, ge=2)
    # ... and a notification id seen within this window is acknowledged without effect.
    deletion_replay_window_seconds: float = Field(default=30 * 86400.0, gt=0)

    # Sign-in throttling, counted in the database so every replica sees the same failures:
    # this many failures per email, or per client address, within the window refuse further
    # attempts (429 with Retry-After) until the window ends.
    login_throttle_window_seconds: float = Field(default=900.0, gt=0)
    login_max_failures_per_email: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    # New passwords need at least this zxcvbn score (0 to 4).
    password_min_score: int = Field(default=3, ge=0, le=4)

    # Comma-separated emails of the superadmins: only they switch the platform-wide pause.
    superadmin_emails: str = ""
    # Live update streams one user may hold open at once (per replica); beyond: 429.
    live_streams_per_user: int = Field(default=4, ge=1)

    # Notifications to people: evaluation interval, send timeout, attempts.
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    # eBay's push notifications: the ingress and the subscriptions.
    push: PushSettings = Field(default_factory=PushSettings)

    def is_superadmin(self, email: str) -> bool:
        wanted = {e.strip().lower() for e in self.superadmin_emails.split(",") if e.strip()}
        return email.lower() in wanted
