"""Fulfillment API getOrders (``GET /sell/fulfillment/v1/order``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.rest import get_json

ORDERS_PATH = "/sell/fulfillment/v1/order"
MAX_LIMIT = 200  # the contract rejects more
# getOrders?orderIds= takes at most this many ids (error 30900 beyond; eBay ignores limit/offset).
MAX_ORDER_IDS = 50
# Without it eBay leaves the 'Collect and Remit' tax out of pricingSummary.total and the fee and
# tax-type breakdown out of the order: the mirror would hold a total the buyer did not pay.
FIELD_GROUPS = "TAX_BREAKDOWN"


@dataclass(frozen=True)
class OrdersPage:
    orders: list[dict[str, Any]]
    total: int
    offset: int
    has_next: bool


def ebay_timestamp(value: datetime) -> str:
    """eBay's ISO-8601 form: UTC with milliseconds and a Z."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def last_modified_filter(window_from: datetime, window_to: datetime) -> str:
    return f"lastmodifieddate:[{ebay_timestamp(window_from)}..{ebay_timestamp(window_to)}]"


class FulfillmentClient:
    def __init__(self, http: httpx.AsyncClient, api_base_url: str) -> None:
        self._http = http
        self._url = f"{api_base_url}{ORDERS_PATH}"

    async def get_orders(
        self, token: SecretStr, *, order_filter: str, offset: int, limit: int
    ) -> OrdersPage:
        body = await get_json(
            self._http,
            self._url,
            token=token,
            params={
                "filter": order_filter,
                "limit": str(limit),
                "offset": str(offset),
                "fieldGroups": FIELD_GROUPS,
            },
        )
        orders = body.get("orders", [])
        total = body.get("total")
        if not isinstance(orders, list) or not isinstance(total, int):
            raise EbayPayloadError("getOrders answered without orders[] and total")
        return OrdersPage(
            orders=orders, total=total, offset=offset, has_next=bool(body.get("next"))
        )

    async def get_orders_by_ids(
        self, token: SecretStr, order_ids: list[str]
    ) -> list[dict[str, Any]]:
        """``getOrders?orderIds=``: the orders named (≤ :data:`MAX_ORDER_IDS`), ids eBay does
        not know left out (it answers them as warnings)."""
        if len(order_ids) > MAX_ORDER_IDS:
            raise ValueError(f"at most {MAX_ORDER_IDS} orderIds per call")
        if not order_ids:
            return []
        body = await get_json(
            self._http,
            self._url,
            token=token,
            params={"orderIds": ",".join(order_ids), "fieldGroups": FIELD_GROUPS},
        )
        orders = body.get("orders", [])
        if not isinstance(orders, list):
            raise EbayPayloadError("getOrders answered without orders[]")
        return orders
