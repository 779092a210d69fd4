"""Finances API getTransactions and getPayouts (apiz host; fact sheet §5, §7).

Every call is addressed to the seller's marketplace (``X-EBAY-C-MARKETPLACE-ID``) and signed
when a signing key is given: EU/UK-domiciled sellers must sign every Finances call, and eBay
ignores signatures where they are not needed. Nothing matching is HTTP 204 No Content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.rest import get_json
from common.ebay.signing import SigningKey, signature_headers

TRANSACTIONS_PATH = "/sell/finances/v1/transaction"
PAYOUTS_PATH = "/sell/finances/v1/payout"
# The contract's maxima (more is a 400).
MAX_TRANSACTIONS_LIMIT = 1000
MAX_PAYOUTS_LIMIT = 200


@dataclass(frozen=True)
class FinancesPage:
    records: list[dict[str, Any]]
    total: int
    offset: int
    has_next: bool


def transaction_date_filter(window_from: datetime, window_to: datetime) -> str:
    return f"transactionDate:[{ebay_timestamp(window_from)}..{ebay_timestamp(window_to)}]"


def payout_date_filter(window_from: datetime, window_to: datetime) -> str:
    return f"payoutDate:[{ebay_timestamp(window_from)}..{ebay_timestamp(window_to)}]"


class FinancesClient:
    def __init__(self, http: httpx.AsyncClient, apiz_base_url: str) -> None:
        self._http = http
        self._base = apiz_base_url

    async def get_transactions(
        self,
        token: SecretStr,
        *,
        marketplace_id: str,
        signing_key: SigningKey | None,
        date_filter: str,
        offset: int,
        limit: int,
    ) -> FinancesPage:
        # Oldest first: a late arrival at the window's end joins the last page instead of
        # shifting every page under an ongoing pass.
        return await self._page(
            TRANSACTIONS_PATH,
            "transactions",
            token,
            marketplace_id,
            signing_key,
            {"filter": date_filter, "sort": "transactionDate"},
            offset,
            limit,
        )

    async def get_payouts(
        self,
        token: SecretStr,
        *,
        marketplace_id: str,
        signing_key: SigningKey | None,
        date_filter: str,
        offset: int,
        limit: int,
    ) -> FinancesPage:
        return await self._page(
            PAYOUTS_PATH,
            "payouts",
            token,
            marketplace_id,
            signing_key,
            {"filter": date_filter, "sort": "payoutDate"},
            offset,
            limit,
        )

    async def _page(
        self,
        path: str,
        collection: str,
        token: SecretStr,
        marketplace_id: str,
        signing_key: SigningKey | None,
        params: dict[str, str],
        offset: int,
        limit: int,
    ) -> FinancesPage:
        url = f"{self._base}{path}"
        headers = {"X-EBAY-C-MARKETPLACE-ID": marketplace_id}
        if signing_key is not None:
            headers.update(signature_headers(signing_key, method="GET", url=url))
        body = await get_json(
            self._http,
            url,
            token=token,
            params={**params, "limit": str(limit), "offset": str(offset)},
            headers=headers,
        )
        if not body:  # 204: nothing matches
            return FinancesPage(records=[], total=0, offset=offset, has_next=False)
        records = body.get(collection, [])
        total = body.get("total")
        if not isinstance(records, list) or not isinstance(total, int):
            raise EbayPayloadError(f"{path} answered without {collection}[] and total")
        return FinancesPage(
            records=records, total=total, offset=offset, has_next=bool(body.get("next"))
        )
