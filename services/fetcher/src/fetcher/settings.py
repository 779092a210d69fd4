"""Settings of the fetcher."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from common.environments import EbayEnvironments, EnvironmentsField
from common.ledger import CallLedgerSettings
from common.service import ServiceBaseSettings
from common.settings import EbayApiSettings, EbayField


class PageRetrySettings(BaseModel):
    """Retries of one page inside its window: after a 5xx, a timeout, a dropped connection or an
    unreadable body (``fetcher.service.is_retried_in_page``)."""

    # Calls of one page in all, the first included; after the last the window is handed back.
    attempts: int = Field(default=4, ge=1)
    # Full-jitter exponential backoff: wait a random time up to initial·2^n, at most max.
    initial_seconds: float = Field(default=0.5, ge=0)
    max_seconds: float = Field(default=10.0, ge=0)


class TokenCacheSettings(BaseModel):
    """How long a fetcher keeps an account's access token in memory (``fetcher.tokens``)."""

    # Ask the token service again this long before the token expires.
    margin_seconds: float = Field(default=120.0, ge=0)
    # ... and after this long at the latest: how late a revocation eBay does not enforce itself
    # (tokens deleted, reauth needed) stops a fetcher. 0 turns the cache off.
    max_age_seconds: float = Field(default=600.0, ge=0)


class HttpSettings(BaseModel):
    """The pooled keep-alive clients, one per eBay host (``fetcher.app.EbayHttpClients``)."""

    # Connections per host; one httpx client stays efficient up to about ten (STACK-NOTES §9).
    max_connections: int = Field(default=10, ge=1)
    # An idle connection is kept this long, so windows a few seconds apart reuse it.
    keepalive_seconds: float = Field(default=60.0, ge=0)


class FetcherSettings(ServiceBaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FETCHER_", env_nested_delimiter="__", extra="ignore"
    )

    ebay: EbayApiSettings = EbayField
    # The keysets and hosts of production and sandbox accounts (EBAY_PRODUCTION_*, EBAY_SANDBOX_*).
    environments: EbayEnvironments = EnvironmentsField

    # Windows handled at once by one replica; one httpx client stays efficient up to about ten
    # concurrent requests (STACK-NOTES §9).
    concurrency: int = 4
    orders_page_size: int = 200
    # Inventory items per offers page (getInventoryItems allows 200); each item costs one
    # getOffers call, at most ``offers_concurrency`` of them in flight per fetcher process.
    offers_page_size: int = 200
    offers_concurrency: int = 8
    # Pages are split below the server's 1 MiB max_payload with room for headers.
    max_page_bytes: int = 900_000
    # A result set that shrinks while we page may shift unseen rows to earlier offsets, so the
    # window is paged again; after this many unstable passes the window is retried later.
    max_passes: int = 3
    token_timeout_seconds: float = 15.0
    token_cache: TokenCacheSettings = Field(default_factory=TokenCacheSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    # How often a window being fetched tells JetStream it is still in progress.
    progress_seconds: float = 15.0
    page_retry: PageRetrySettings = Field(default_factory=PageRetrySettings)
    call_ledger: CallLedgerSettings = Field(default_factory=CallLedgerSettings)
