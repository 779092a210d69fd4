"""Sell Inventory API: getInventoryItems, getInventoryItem, getOffers (``sku`` required), getOffer.

``offset`` is a record offset (``next`` adds ``limit``); the spec's text calls it a page number
and ``size`` the number of pages: ``size`` follows that text for inventory items and the
Offers text (items on the page) for offers. Clients should follow ``next``.
"""

import re

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import Call, scopes
from ebay_sandbox.catalog import MARKETPLACES
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.gateway import rest_call
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.inventory.render import (
    Stock,
    inventory_item_json,
    offer_id,
    offer_json,
    stock,
    stock_change_times,
    stock_for_sku,
)
from ebay_sandbox.paging import collection, dumps, int_param, page_head
from ebay_sandbox.state import SandboxDep

router = APIRouter(prefix="/sell/inventory/v1")
DOMAIN = "API_INVENTORY"
ITEMS_PATH = "/sell/inventory/v1/inventory_item"
OFFERS_PATH = "/sell/inventory/v1/offer"
ACCEPTED = scopes("sell.inventory", "sell.inventory.readonly")
_ITEMS = frozenset({"offers", "inventory_items"})
_OFFERS = frozenset({"offers"})
GET_ITEMS = Endpoint(
    "getInventoryItems", _ITEMS, ApiStyle.REST, paged=True, error_id=25001, domain=DOMAIN
)
GET_ITEM = Endpoint("getInventoryItem", _ITEMS, ApiStyle.REST, error_id=25001, domain=DOMAIN)
GET_OFFERS = Endpoint(
    "getOffers", _OFFERS, ApiStyle.REST, paged=True, error_id=25001, domain=DOMAIN
)
GET_OFFER = Endpoint("getOffer", _OFFERS, ApiStyle.REST, error_id=25001, domain=DOMAIN)
_SKU = re.compile(r"^[A-Za-z0-9_-]{1,50}$")


def _error(status: int, error_id: int, message: str, **parameters: str) -> EbayApiError:
    return EbayApiError(
        status, [error_entry(error_id, DOMAIN, "REQUEST", message, message, parameters)]
    )


def _paging(limit: str | None, offset: str | None, default: int) -> tuple[int, int]:
    lim = int_param(limit, default=default, low=1, high=200)
    off = int_param(offset, default=0, low=0, high=None)
    if lim is None or off is None:
        raise _error(
            400,
            25706,
            "You have provided invalid pagination values.",
            limit=limit or "",
            offset=offset or "",
        )
    return lim, off


def _stock(call: Call, horizon: Horizon) -> list[Stock]:
    book = call.world.book
    for slot in range(book.slot_count):
        horizon.change_at(book.slot(slot).next_change(call.now_ms))
    items = stock(book, call.now_ms)
    for item in items:
        horizon.changes_at(sorted(stock_change_times(item)))
    for draft in book.drafts():
        horizon.change_at(draft.created_ms)
    return items


def _head(
    call: Call,
    path: str,
    query: list[tuple[str, str]],
    lim: int,
    off: int,
    total: int,
    size: int,
    returned: int,
) -> dict[str, object]:
    head = page_head(call.base, path, query, limit=lim, offset=off, total=total, returned=returned)
    head.pop("offset")  # the Inventory collections have no offset field
    head["size"] = size
    return head


@router.get("/inventory_item")
async def get_inventory_items(
    request: Request, sandbox: SandboxDep, limit: str | None = None, offset: str | None = None
) -> Response:
    """Every inventory item of the seller, by SKU."""
    call = await rest_call(sandbox, request, GET_ITEMS, ACCEPTED)
    lim, off = _paging(limit, offset, 25)

    def build(horizon: Horizon) -> bytes:
        items = call.selection((), lambda inner: _stock(call, inner), horizon)
        page = items[off : off + call.page_size(lim)]
        pages = -(-len(items) // lim)
        head = _head(call, ITEMS_PATH, [], lim, off, len(items), pages, len(page))
        book = call.world.book
        body = [dumps(inventory_item_json(book, item, call.now_ms)) for item in page]
        return collection(head, "inventoryItems", body)

    return call.respond(call.cached((lim, off), build))


@router.get("/inventory_item/{sku}")
async def get_inventory_item(sku: str, request: Request, sandbox: SandboxDep) -> Response:
    """One inventory item; 404 (25710) when the SKU is unknown."""
    call = await rest_call(sandbox, request, GET_ITEM, ACCEPTED)
    found = stock_for_sku(call.world.book, sku, call.now_ms)
    if found is None:
        raise _error(
            404,
            25710,
            "We didn't find the resource/entity you are requesting. Please verify the request",
            sku=sku,
        )
    return call.respond(dumps(inventory_item_json(call.world.book, found, call.now_ms)))


@router.get("/offer")
async def get_offers(
    request: Request,
    sandbox: SandboxDep,
    sku: str | None = None,
    marketplace_id: str | None = None,
    format: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    """Offers of one SKU (eBay rejects the call without ``sku``)."""
    call = await rest_call(sandbox, request, GET_OFFERS, ACCEPTED)
    if not sku or not _SKU.match(sku):
        raise _error(
            400,
            25709,
            "Invalid value for sku. This is an invalid value for a SKU. "
            "Only alphanumeric characters can be used for SKUs, and their length must "
            "not exceed 50 characters",
            sku=sku or "",
        )
    if marketplace_id is not None and marketplace_id not in MARKETPLACES:
        raise _error(400, 25709, "Invalid value for marketplace_id.", marketplace_id=marketplace_id)
    if format is not None and format not in ("FIXED_PRICE", "AUCTION"):
        raise _error(400, 25709, "Invalid value for format.", format=format)
    lim, off = _paging(limit, offset, 100)

    def build(horizon: Horizon) -> bytes:
        book = call.world.book
        found = stock_for_sku(book, sku, call.now_ms)
        if found is not None and found.slot is not None:
            horizon.change_at(book.slot(found.slot).next_change(call.now_ms))
            horizon.changes_at(sorted(stock_change_times(found)))
        offers = [s for s in (found,) if s is not None and s.listing is not None]
        offers = [
            s
            for s in offers
            if marketplace_id in (None, book.seller.marketplace_id)
            and (format is None or (s.listing is not None and s.listing.sold_format == format))
        ]
        if not offers:
            horizon.change_at(call.now_ms + 1)
            return b""
        page = offers[off : off + call.page_size(lim)]
        query = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")
        ]
        head = _head(call, OFFERS_PATH, query, lim, off, len(offers), len(page), len(page))
        return collection(head, "offers", [dumps(offer_json(book, s, call.now_ms)) for s in page])

    body = call.cached((sku, marketplace_id, format, lim, off), build)
    if not body:
        # 404 as observed; the offers-no-offer-400 variant answers 400 as eBay's spec lists it.
        status = call.sandbox.config.strict.no_offer_status
        raise _error(status, 25713, "This Offer is not available : .", sku=sku)
    return call.respond(body)


@router.get("/offer/{offerId}")
async def get_offer(offerId: str, request: Request, sandbox: SandboxDep) -> Response:
    """One offer; 404 (25713) when unknown."""
    call = await rest_call(sandbox, request, GET_OFFER, ACCEPTED)
    book = call.world.book
    for item in _stock(call, Horizon(call.now_ms)):
        if item.slot is not None and offer_id(book.seed, book.seller.index, item.slot) == offerId:
            return call.respond(dumps(offer_json(book, item, call.now_ms)))
    raise _error(404, 25713, f"This Offer is not available : {offerId}.", offerId=offerId)
