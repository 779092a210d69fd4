"""Fulfillment getPaymentDisputeSummaries (``GET /sell/fulfillment/v1/payment_dispute_summary``).

Served on the apiz host with the usual Bearer token (scope ``sell.payment.dispute``).
``open_date_from``/``open_date_to`` may be at most 90 days apart and reach 18 months back;
without any filter the method returns every open and recently closed dispute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError, EbayRequestError
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.rest import get_json

PAYMENT_DISPUTES_PATH = "/sell/fulfillment/v1/payment_dispute_summary"
PAYMENT_DISPUTE_PATH = "/sell/fulfillment/v1/payment_dispute"
MAX_LIMIT = 200
MAX_OPEN_DATE_RANGE = timedelta(days=90)


@dataclass(frozen=True)
class DisputesPage:
    disputes: list[dict[str, Any]]
    total: int
    offset: int
    has_next: bool


def open_date_params(window_from: datetime, window_to: datetime) -> dict[str, str]:
    """The open-date filter of a window; the API refuses ranges over 90 days."""
    if window_to - window_from > MAX_OPEN_DATE_RANGE:
        raise EbayRequestError(
            f"payment disputes are searched in windows of at most 90 days, "
            f"not {window_to - window_from} (lower the scheduler's max window)"
        )
    return {
        "open_date_from": ebay_timestamp(window_from),
        "open_date_to": ebay_timestamp(window_to),
    }


class PaymentDisputesClient:
    def __init__(self, http: httpx.AsyncClient, apiz_base_url: str) -> None:
        self._http = http
        self._url = f"{apiz_base_url}{PAYMENT_DISPUTES_PATH}"
        self._one_url = f"{apiz_base_url}{PAYMENT_DISPUTE_PATH}"

    async def get_dispute(self, token: SecretStr, dispute_id: str) -> dict[str, Any]:
        """getPaymentDispute: one dispute with its evidence and activity."""
        return await get_json(
            self._http, f"{self._one_url}/{quote(dispute_id, safe='')}", token=token, params={}
        )

    async def get_summaries(
        self, token: SecretStr, *, filters: Mapping[str, str], offset: int, limit: int
    ) -> DisputesPage:
        body = await get_json(
            self._http,
            self._url,
            token=token,
            params={**filters, "limit": str(limit), "offset": str(offset)},
        )
        disputes = body.get("paymentDisputeSummaries", [])
        total = body.get("total")
        if not isinstance(disputes, list) or not isinstance(total, int):
            raise EbayPayloadError(
                "getPaymentDisputeSummaries answered without paymentDisputeSummaries[] and total"
            )
        return DisputesPage(
            disputes=disputes, total=total, offset=offset, has_next=bool(body.get("next"))
        )
