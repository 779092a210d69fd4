"""Orders: Fulfillment getOrders, filtered on last-modified date."""

from __future__ import annotations

from dataclasses import dataclass

from common.ebay.fulfillment import FulfillmentClient, last_modified_filter
from common.families import Family
from fetcher.sources.base import PageRequest, SourcePage


@dataclass(frozen=True)
class OrdersSource:
    client: FulfillmentClient
    page_size: int
    family: Family = Family.ORDERS
    phases: tuple[str, ...] = ("window",)

    async def page(self, request: PageRequest) -> SourcePage:
        window = request.window
        assert window.window_from is not None, "orders are fetched in windows"
        page = await self.client.get_orders(
            request.account.token,
            order_filter=last_modified_filter(window.window_from, window.window_to),
            offset=request.offset,
            limit=self.page_size,
        )
        return SourcePage.listed(page.orders, total=page.total, has_next=page.has_next)
