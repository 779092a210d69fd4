"""Settings of the token service: the only process that holds the token encryption keys."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.ebay.scopes import SCOPE_STRING
from common.environments import EbayEnvironments, EnvironmentsField
from common.ledger import CallLedgerSettings
from common.service import ServiceBaseSettings
from common.settings import (
    EbayApiSettings,
    EbayField,
    PostgresField,
    PostgresSettings,
)


class TokenServiceSettings(ServiceBaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOKEN_SERVICE_", env_nested_delimiter="__", extra="ignore"
    )

    database: PostgresSettings = PostgresField
    ebay: EbayApiSettings = EbayField
    # The keysets and hosts of production and sandbox accounts (EBAY_PRODUCTION_*, EBAY_SANDBOX_*).
    environments: EbayEnvironments = EnvironmentsField

    # Key ring: key id -> base64 of a 32-byte AES key, e.g. {"2026-11": "..."}. New tokens are
    # encrypted with the active key; old ones stay readable by their own key id until rotated.
    keys: dict[str, SecretStr]
    active_key_id: str
    # Refresh this long before an access token expires, so no caller gets one about to die.
    refresh_ahead_seconds: float = 300.0
    # Every this many seconds a sweep refreshes the tokens that would otherwise enter the
    # refresh-ahead margin before the next sweep, and warns about consents ending (0: off).
    sweep_seconds: float = Field(default=60.0, ge=0)
    # Warn (log, metric) when a seller's refresh token expires within this many days.
    refresh_token_warning_days: float = Field(default=30.0, gt=0)
    scopes: str = SCOPE_STRING
    # Every this many seconds an Identity getUser per active account checks that the account
    # still answers at eBay (ebay_health_events); the calls count in the call ledger (0: off).
    health_check_seconds: float = Field(default=900.0, ge=0)
    # Every this many seconds the job quota_read stores the application's call limits as eBay's
    # getRateLimits reports them, for the budget planner (0: off; it plans with the configured).
    quota_read_seconds: float = Field(default=86_400.0, ge=0)
    # How often each replica looks for a due background job or an operator's "run now".
    jobs_poll_seconds: float = Field(default=5.0, gt=0)
    # The fetchers' ledger settings: its bucket (the health check counts) and its configured
    # quotas (the fallback the quota_read job's summary compares eBay's reading with).
    call_ledger: CallLedgerSettings = Field(default_factory=CallLedgerSettings)
    queue_group: str = "token-service"

    @model_validator(mode="after")
    def _active_key_exists(self) -> TokenServiceSettings:
        if self.active_key_id not in self.keys:
            raise ValueError("TOKEN_SERVICE_ACTIVE_KEY_ID must name a key in TOKEN_SERVICE_KEYS")
        return self
