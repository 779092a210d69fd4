"""How much of each eBay API's daily quota the application used today, for the
``quota_near_limit`` rule: read from the fetchers' call ledger with the fetchers' own reader
and quotas, so the alert and the fetchers' hold-back judge by the same figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from faststream.nats import NatsBroker
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from admin_api.alerts.rules import QuotaFacts
from common.ebay.quota import EbayApi
from common.ledger import CallCounter, CallLedger, CallLedgerSettings
from common.streams import BUCKETS


class FetcherQuotaSettings(BaseSettings):
    """The quotas as the fetchers read them (``FETCHER_CALL_LEDGER__QUOTAS__<API>``)."""

    model_config = SettingsConfigDict(
        env_prefix="FETCHER_", env_nested_delimiter="__", extra="ignore"
    )

    call_ledger: CallLedgerSettings = Field(default_factory=CallLedgerSettings)


class LedgerQuotas:
    def __init__(
        self,
        broker: NatsBroker,
        settings: CallLedgerSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._broker = broker
        self._settings = settings
        self._clock = clock

    async def __call__(self) -> list[QuotaFacts]:
        kv = await self._broker.key_value(BUCKETS.call_ledger.bucket, declare=False)
        ledger = CallLedger(kv, CallCounter(self._clock), self._settings, self._clock)
        found = []
        for api in EbayApi:
            quota = getattr(self._settings.quotas, api.value, None)
            if quota is None:
                continue  # counted, never limited
            usage = await ledger.usage(api, account_id=0)
            found.append(QuotaFacts(api=api.value, used=usage.api_calls, quota=quota))
        return found
