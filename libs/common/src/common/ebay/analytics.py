"""Developer Analytics (v1_beta) ``getRateLimits``: the application's call limits and today's
use per API and resource (fact sheet §6), read with an application token.

The answer is returned as eBay sent it (the ``rateLimits`` array, unchecked): whoever plans
with it validates it (:mod:`common.quotas`), so a nonsense reading is stored as read and the
reason it was set aside can be shown.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.rest import get_json

PREFIX = "/developer/analytics/v1_beta"


class AnalyticsClient:
    def __init__(self, http: httpx.AsyncClient, api_base_url: str) -> None:
        self._http = http
        self._base = f"{api_base_url}{PREFIX}"

    async def get_rate_limits(self, token: SecretStr) -> list[Any]:
        """Every API's rate limits (204 No Content: none). No filter is sent: eBay's filters
        are case-sensitive against a payload of mixed casing (fact sheet §6), so the reader
        picks the APIs itself."""
        body = await get_json(self._http, f"{self._base}/rate_limit/", token=token, params={})
        limits = body.get("rateLimits", [])
        if not isinstance(limits, list):
            raise EbayPayloadError("getRateLimits answered without a rateLimits array")
        return limits
