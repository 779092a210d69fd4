"""Offers: getOffers of every SKU that getInventoryItems lists, as a snapshot.

One source page is one page of inventory items and the offers of its SKUs, fetched
concurrently. A SKU that fails fails the whole page (the window retries it) rather than
leaving its offers out of a snapshot that would then mark them ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from common.ebay.errors import EbayAuthError, EbayError, EbayQuotaError, EbayTransientError
from common.ebay.inventory import InventoryClient
from common.families import Family
from fetcher.domain import PageShape
from fetcher.sources.base import PageRequest, SourcePage

# Which of several SKU failures a page reports: the one the fetcher can act on first (a 401
# is fixed by a refreshed token at once), then the one that asks for the longest wait.
_ERROR_PRECEDENCE: tuple[type[EbayError], ...] = (
    EbayAuthError,
    EbayQuotaError,
    EbayTransientError,
    EbayError,
)


def reported_error(failures: ExceptionGroup[Exception]) -> Exception:
    """The one exception a page raises for its failed SKU calls (a TaskGroup's flat group).

    Anything that is not an eBay error is a bug: the group itself is raised so nothing hides it.
    """
    if not all(isinstance(error, EbayError) for error in failures.exceptions):
        return failures
    return next(
        error
        for kind in _ERROR_PRECEDENCE
        for error in failures.exceptions
        if isinstance(error, kind)
    )


@dataclass(frozen=True)
class OffersSource:
    client: InventoryClient
    page_size: int
    # getOffers calls in flight at once, shared by every window this fetcher process handles
    # (one httpx client stays efficient up to about ten concurrent requests).
    offer_calls: asyncio.Semaphore = field(compare=False)
    family: Family = Family.OFFERS
    phases: tuple[str, ...] = ("snapshot",)

    async def page(self, request: PageRequest) -> SourcePage:
        assert request.window.window_from is None, "offers are fetched as a snapshot"
        token = request.account.token
        items = await self.client.get_inventory_items(
            token, offset=request.offset, limit=self.page_size
        )
        offers = await self._offers_of(token, items.skus)
        consumed = (
            items.next_offset - request.offset
            if items.next_offset is not None
            else len(items.items)
        )
        return SourcePage(
            offers,
            PageShape(consumed=consumed, total=items.total, has_next=items.next_offset is not None),
        )

    async def _offers_of(self, token: SecretStr, skus: Sequence[str]) -> list[dict[str, Any]]:
        """The offers of every SKU, in SKU order; raises if any SKU's call failed."""

        async def offers_of_sku(sku: str) -> list[dict[str, Any]]:
            async with self.offer_calls:
                return await self.client.get_offers(token, sku=sku)

        try:
            # A failure cancels the SKUs still waiting: the page is lost anyway.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(offers_of_sku(sku)) for sku in skus]
        except ExceptionGroup as failures:
            raise reported_error(failures) from None
        return [offer for task in tasks for offer in task.result()]
