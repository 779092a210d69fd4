"""Inventory API getInventoryItems and getOffers (``/sell/inventory/v1``).

The offers of a seller are reachable only SKU by SKU: getOffers without ``sku`` is refused
(fact sheet §7), so the SKUs come from getInventoryItems. Both collections answer ``total``,
``size``, ``limit`` and ``next``/``prev`` but no ``offset``, and the spec's text calls ``offset``
a page number while eBay (and the sandbox) treat it as a record offset: the next page is where
``next`` says, not where we guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.rest import get_json

INVENTORY_ITEMS_PATH = "/sell/inventory/v1/inventory_item"
OFFERS_PATH = "/sell/inventory/v1/offer"
MAX_ITEMS_LIMIT = 200  # the contract rejects more (400 25706)
# getOffers answers 25713 for a SKU without any offer (an unpublished draft): 404 in the
# sandbox, possibly 400 at eBay (its spec lists 25713 under 400); both mean "no offer".
NO_OFFER_ERROR_ID = 25713


@dataclass(frozen=True)
class InventoryItemsPage:
    items: list[dict[str, Any]]
    total: int
    # The offset of the page ``next`` points to; None on the last page.
    next_offset: int | None

    @property
    def skus(self) -> list[str]:
        return [item["sku"] for item in self.items]


def next_offset(body: dict[str, Any], offset: int, returned: int) -> int | None:
    """Where the collection's ``next`` link continues, or None when there is no next page.

    A ``next`` without an ``offset`` parameter continues after the records returned; one that
    does not move forward would page the same records for ever, so it is refused.
    """
    link = body.get("next")
    if not link:
        return None
    if not isinstance(link, str):
        raise EbayPayloadError(f"next is not a link: {link!r}")
    values = parse_qs(urlsplit(link).query).get("offset")
    try:
        following = int(values[0]) if values else offset + returned
    except ValueError as exc:
        raise EbayPayloadError(f"next has a non-numeric offset: {link}") from exc
    if following <= offset:
        raise EbayPayloadError(f"next does not move past offset {offset}: {link}")
    return following


class InventoryClient:
    def __init__(self, http: httpx.AsyncClient, api_base_url: str) -> None:
        self._http = http
        self._items_url = f"{api_base_url}{INVENTORY_ITEMS_PATH}"
        self._offers_url = f"{api_base_url}{OFFERS_PATH}"

    async def get_inventory_items(
        self, token: SecretStr, *, offset: int, limit: int
    ) -> InventoryItemsPage:
        body = await get_json(
            self._http,
            self._items_url,
            token=token,
            params={"limit": str(limit), "offset": str(offset)},
        )
        items = body.get("inventoryItems", [])
        total = body.get("total")
        if not isinstance(items, list) or not isinstance(total, int):
            raise EbayPayloadError("getInventoryItems answered without inventoryItems[] and total")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("sku"), str):
                raise EbayPayloadError("getInventoryItems answered an item without a sku")
        return InventoryItemsPage(items, total, next_offset(body, offset, len(items)))

    async def get_offers(self, token: SecretStr, *, sku: str) -> list[dict[str, Any]]:
        """Every offer of one SKU (all pages); none for a SKU that has no offer.

        No ``marketplace_id``: a SKU is offered on one marketplace only, so eBay says the
        filter has no practical use, and without it nothing the seller offers is missed.
        """
        offers: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            body = await get_json(
                self._http,
                self._offers_url,
                token=token,
                params={"sku": sku, "offset": str(offset)},
                empty_when=(NO_OFFER_ERROR_ID,),
            )
            page = body.get("offers", [])
            if not isinstance(page, list) or not all(isinstance(o, dict) for o in page):
                raise EbayPayloadError(f"getOffers answered offers that are not objects ({sku})")
            offers.extend(page)
            offset = next_offset(body, offset, len(page))
        return offers
