"""The daily job ``quota_read``: the application's call limits as eBay states them
(Developer Analytics getRateLimits, fact sheet §6), stored for the budget planner.

Only the token service holds the application credentials, so it asks, with an application
token. It stores what eBay answered as it came, or that the read failed: the planner validates
the reading and falls back to the configured quotas when it is unsound (common.quotas).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.quotas import QuotaReadingRepository
from common.ebay.analytics import AnalyticsClient
from common.ebay.errors import EbayError
from common.ebay.notification import application_token
from common.ledger import DailyQuotas
from common.quotas import StoredReading, quota_readings
from common.settings import EbayApiSettings

log = logging.getLogger(__name__)
# Error texts are eBay's and ours, never a token; still kept short for the jobs card.
_DETAIL_CHARS = 300


class QuotaReader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        ebay: EbayApiSettings,
        configured: DailyQuotas,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._ebay = ebay
        self._configured = configured
        self._clock = clock

    async def read(self) -> StoredReading:
        """Ask eBay and store the answer (or the failure); returns what was stored."""
        ebay = self._ebay
        now = self._clock()
        try:
            token = await application_token(
                self._http, ebay.api_base_url, ebay.client_id, ebay.client_secret
            )
            limits = await AnalyticsClient(self._http, ebay.api_base_url).get_rate_limits(token)
            reading = StoredReading(read_at=now, ok=True, rate_limits=limits)
        except EbayError as exc:
            log.warning("getRateLimits failed, the budget keeps the configured quotas: %s", exc)
            detail = f"{type(exc).__name__}: {exc}"[:_DETAIL_CHARS]
            reading = StoredReading(read_at=now, ok=False, rate_limits=[], detail=detail)
        async with self._sessions.begin() as session:
            await QuotaReadingRepository(session).store(ebay.client_id, reading)
        return reading

    async def run(self) -> str:
        """The job: read, store, and sum up what the planner will be able to use of it."""
        readings, notes = quota_readings(await self.read(), self._configured)
        for note in notes:
            log.warning("quotas: %s", note)
        return f"quotas read from eBay for {len(readings)} of {len(DailyQuotas.model_fields)} APIs"
