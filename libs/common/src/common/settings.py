"""Settings pieces shared by every service.

Each piece reads its own environment prefix (``NATS_URL``, ``DATABASE_URL``), so operators set a
server address once for all services; a service's own settings class nests them.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.families import SNAPSHOT_FAMILIES, Family
from common.windows import DEFAULT_LOOKBACK, LOOKBACK_LIMITS, WindowPolicy


class NatsSettings(BaseSettings):
    """Where the NATS JetStream server is."""

    model_config = SettingsConfigDict(env_prefix="NATS_", extra="ignore")

    url: str = "nats://127.0.0.1:4222"
    # JetStream PubAcks under load take longer than FastStream's 0.5 s default.
    publish_timeout_seconds: float = 10.0
    # Where replies to this client's requests arrive; by default "_INBOX_<user>" when the URL
    # names a NATS user, so server permissions can keep every user's replies (access tokens
    # among them) to that user alone (deploy/nats/accounts.conf).
    inbox_prefix: str | None = None
    # Services declare streams, consumers and buckets at start (create-or-update). Where a
    # deploy step does it (`ebaysync topology`), turn this off and give services no rights to.
    declare_topology: bool = True

    @property
    def inbox(self) -> str:
        if self.inbox_prefix:
            return self.inbox_prefix
        user = urlsplit(self.url).username
        return f"_INBOX_{user}" if user else "_INBOX"


class PostgresSettings(BaseSettings):
    """Where the PostgreSQL database is; the URL carries a password, so it is a secret."""

    model_config = SettingsConfigDict(env_prefix="DATABASE_", extra="ignore")

    url: SecretStr
    pool_size: int = 5
    echo: bool = False


class EbayApiSettings(BaseSettings):
    """eBay base URLs and the application's OAuth credentials.

    The defaults point at production eBay; the embedded runtime points them at the sandbox.
    """

    model_config = SettingsConfigDict(env_prefix="EBAY_", extra="ignore")

    api_base_url: str = "https://api.ebay.com"
    apiz_base_url: str = "https://apiz.ebay.com"
    auth_base_url: str = "https://auth.ebay.com"
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    ru_name: str = ""
    request_timeout_seconds: float = 30.0


def nats_settings() -> NatsSettings:
    return NatsSettings()


def postgres_settings() -> PostgresSettings:
    return PostgresSettings()  # url comes from the environment


def ebay_settings() -> EbayApiSettings:
    return EbayApiSettings()


NatsField = Field(default_factory=nats_settings)
PostgresField = Field(default_factory=postgres_settings)
EbayField = Field(default_factory=ebay_settings)


class FamilyWindow(BaseModel):
    """One family's own window settings; what is left out comes from the common ones."""

    model_config = ConfigDict(extra="forbid")

    cadence_seconds: float | None = Field(default=None, gt=0)
    overlap_seconds: float | None = Field(default=None, ge=0)
    initial_backfill_days: float | None = Field(default=None, gt=0)


class WindowSettings(BaseSettings):
    """The window policy (DESIGN §3.4): the scheduler plans with it, the admin API projects it.

    Both read the same ``SCHEDULER_*`` variables, so "run now" and the schedule projection use
    exactly the windows the scheduler would.
    """

    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore")

    cadence_seconds: float = 300.0
    # Snapshot families (offers, active listings) enumerate everything: they run less often.
    snapshot_cadence_seconds: float = 3600.0
    overlap_seconds: float = 600.0
    settle_lag_seconds: float = 120.0
    max_window_days: float = 7.0
    initial_backfill_days: float = 90.0
    # The families the scheduler plans (JSON list, e.g. '["orders", "messages"]'); by default
    # every family. "Run now" still works for the others.
    families: frozenset[Family] = frozenset(Family)
    # Per-family overrides (JSON), e.g. '{"messages": {"overlap_seconds": 3600},
    # "orders": {"initial_backfill_days": 30}}'; a family not named uses the settings above.
    family_overrides: dict[Family, FamilyWindow] = Field(default_factory=dict)

    def policy(self, family: Family) -> WindowPolicy:
        own = self.family_overrides.get(family, FamilyWindow())
        cadence = (
            self.snapshot_cadence_seconds if family in SNAPSHOT_FAMILIES else self.cadence_seconds
        )
        return WindowPolicy(
            overlap=timedelta(seconds=_first(own.overlap_seconds, self.overlap_seconds)),
            initial_backfill=timedelta(
                days=_first(own.initial_backfill_days, self.initial_backfill_days)
            ),
            lookback_limit=LOOKBACK_LIMITS.get(family, DEFAULT_LOOKBACK),
            max_window=timedelta(days=self.max_window_days),
            settle_lag=timedelta(seconds=self.settle_lag_seconds),
            cadence=timedelta(seconds=_first(own.cadence_seconds, cadence)),
        )

    def policies(self) -> dict[Family, WindowPolicy]:
        return {family: self.policy(family) for family in self.families}


def _first(own: float | None, common: float) -> float:
    return common if own is None else own


def window_settings() -> WindowSettings:
    return WindowSettings()


WindowField = Field(default_factory=window_settings)
