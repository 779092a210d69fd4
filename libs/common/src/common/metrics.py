"""Prometheus metrics of every service, served on ``METRICS_PORT`` at ``/metrics``.

Labels name families, services and outcomes — never accounts or runs, whose numbers grow without
bound; per-account detail lives in the database and in trace attributes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

WINDOWS = Counter(
    "ebaysync_windows_total",
    "Windows handled by fetchers, by outcome (fetched, retried, dropped).",
    ["family", "outcome"],
)
PAGES = Counter(
    "ebaysync_pages_total",
    "Pages published by fetchers and written by writers.",
    ["family", "stage"],
)
ROWS = Counter(
    "ebaysync_rows_total",
    "Rows received by writers, by what the upsert did with them.",
    ["family", "change"],
)
RUNS_COMPLETED = Counter(
    "ebaysync_runs_completed_total", "Windows whose last page was committed.", ["family"]
)
LAG = Histogram(
    "ebaysync_lag_seconds",
    "How far each pair's cursor is behind now, observed by the scheduler every tick.",
    ["family"],
    buckets=(60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600, 86400, 7 * 86400, 90 * 86400),
)
ERRORS = Counter("ebaysync_errors_total", "Failures by service and kind.", ["service", "kind"])
TOKEN_REFRESHES = Counter(
    "ebaysync_token_refreshes_total",
    "OAuth refreshes by reason and outcome.",
    ["reason", "outcome"],
)
CONSENT_ENDING = Gauge(
    "ebaysync_refresh_tokens_expiring",
    "Syncing accounts whose refresh token (the seller's consent) expires within the token "
    "service's warning horizon: the seller must reconnect before then.",
)
DEAD_LETTERS = Counter(
    "ebaysync_dead_letters_total", "Messages moved to the dead-letter stream.", ["stream"]
)
RUNS_FAILED = Counter(
    "ebaysync_runs_failed_total",
    "Runs marked failed because one of their messages was dead-lettered.",
    ["family"],
)
BREAKER_PAUSES = Counter(
    "ebaysync_breaker_pauses_total",
    "Times the circuit breaker paused (or lengthened the pause of) a worker, by family.",
    ["family"],
)
CONSUMER_PENDING = Gauge(
    "ebaysync_consumer_pending",
    "Messages waiting for or held by a durable consumer (num_pending + num_ack_pending).",
    ["stream", "consumer"],
)
WINDOWS_PUBLISHED = Counter(
    "ebaysync_windows_published_total",
    "Window commands the scheduler published, by trigger.",
    ["family", "trigger"],
)

PAGE_RETRIES = Counter(
    "ebaysync_page_retries_total",
    "eBay page calls retried inside a window after a transient failure, by kind "
    "(http_5xx, transport, payload).",
    ["family", "kind"],
)
QUOTA_WAITS = Counter(
    "ebaysync_quota_waits_total",
    "Windows handed back until an eBay daily quota resets, by reason (ebay: eBay refused the "
    "call; share: the account used more than its share; spent: the app's quota is used up; "
    "token_service: no token service answered).",
    ["family", "reason"],
)
EBAY_CALLS = Counter("ebaysync_ebay_calls_total", "eBay API calls made by fetchers.", ["api"])
QUOTA_USED = Gauge(
    "ebaysync_quota_used_ratio",
    "Share of an eBay API's daily call quota the app has used today (shared call ledger; the "
    "scheduler sets it from the budget plan, the fetchers from their own counts).",
    ["api"],
)
PLANNED_STALENESS = Gauge(
    "ebaysync_planned_staleness_seconds",
    "Worst staleness the budget plan lets a family's pairs reach before their next poll.",
    ["family"],
)


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore")

    # 0 turns the endpoint off (e.g. several services in one test process).
    port: int = Field(default=9464, ge=0, le=65535)
    host: str = "0.0.0.0"


def metrics_settings() -> MetricsSettings:
    return MetricsSettings()


MetricsField = Field(default_factory=metrics_settings)


def serve_metrics(settings: MetricsSettings) -> None:
    """Start the ``/metrics`` endpoint in a background thread (once per process)."""
    if settings.port:
        start_http_server(settings.port, addr=settings.host)
