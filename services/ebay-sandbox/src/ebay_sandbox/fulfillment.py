"""Sell Fulfillment API: getOrders and getOrder."""

import json
import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from ebay_sandbox.auth import Api, authorize_call
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.query import DOMAIN, bad_request, parse_filter, select_by_ids, select_orders
from ebay_sandbox.state import SandboxDep, base_url

router = APIRouter(prefix="/sell/fulfillment/v1")
ORDER_PATH = "/sell/fulfillment/v1/order"
DEFAULT_LIMIT, MAX_LIMIT, MAX_ORDER_IDS = 50, 200, 50
FIELD_GROUPS = frozenset({"TAX_BREAKDOWN"})
_INTEGER = re.compile(r"^-?\d+$")


def _check_field_groups(raw: str | None) -> None:
    for group in (raw or "").split(","):
        if group.strip() and group.strip() not in FIELD_GROUPS:
            raise bad_request(32800, f"Invalid field group: {group.strip()}", fieldGroups=group)


def _int_param(
    raw: str | None, name: str, *, default: int, low: int, high: int | None, error_id: int
) -> int:
    if raw is None or raw == "":
        return default
    value = int(raw) if _INTEGER.match(raw.strip()) else None
    if value is None or value < low or (high is not None and value > high):
        raise bad_request(error_id, f"Invalid {name}: {raw}", **{name: raw})
    return value


def _page_url(base: str, params: list[tuple[str, str]], limit: int, offset: int) -> str:
    query = urlencode(
        [*params, ("limit", str(limit)), ("offset", str(offset))], quote_via=quote, safe=":,"
    )
    return f"{base}{ORDER_PATH}?{query}"


def _collection(head: dict[str, Any], orders: list[bytes], warnings: list[dict[str, Any]]) -> bytes:
    # Orders are spliced in pre-serialized; a page of cached orders costs almost nothing.
    parts = [json.dumps(head, separators=(",", ":"))[:-1].encode(), b',"orders":[']
    parts += [b",".join(orders), b"]"]
    if warnings:
        parts.append(b',"warnings":' + json.dumps(warnings, separators=(",", ":")).encode())
    parts.append(b"}")
    return b"".join(parts)


@router.get("/order")
async def get_orders(
    request: Request,
    sandbox: SandboxDep,
    authorization: Annotated[str | None, Header()] = None,
    filter: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
    orderIds: str | None = None,
    fieldGroups: str | None = None,
) -> Response:
    """Orders of the token's seller, newest first, paged with limit/offset."""
    seller = authorize_call(sandbox, authorization, Api.FULFILLMENT)
    _check_field_groups(fieldGroups)
    now_ms, base = sandbox.clock.now_ms(), base_url(request)
    stream = sandbox.stream(seller)
    extra = [("fieldGroups", fieldGroups)] if fieldGroups else []
    ids = [i.strip() for i in (orderIds or "").split(",") if i.strip()]
    warnings: list[dict[str, Any]] = []
    if ids:
        if len(ids) > MAX_ORDER_IDS:
            message = f"Exceeded maximum number of order IDs (the current limit is {MAX_ORDER_IDS})"
            raise bad_request(30900, message, orderIds=orderIds or "")
        selected, missing = select_by_ids(stream, ids, now_ms)
        warnings = [
            error_entry(32100, DOMAIN, "REQUEST", f"Invalid order ID: {m}", None, {"orderId": m})
            for m in missing
        ]
        lim, off = DEFAULT_LIMIT, 0  # eBay ignores limit/offset with orderIds
        page = selected
        params = [("orderIds", ",".join(ids)), *extra]
    else:
        lim = _int_param(
            limit, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, error_id=31100
        )
        off = _int_param(offset, "offset", default=0, low=0, high=None, error_id=31000)
        selected = select_orders(stream, parse_filter(filter, now_ms), now_ms)
        page = selected[off : off + lim]
        params = [("filter", filter)] if filter else []
        params += extra
    total = len(selected)
    head: dict[str, Any] = {
        "href": _page_url(base, params, lim, off),
        "total": total,
        "limit": lim,
        "offset": off,
    }
    if not ids and off + lim < total:
        head["next"] = _page_url(base, params, lim, off + lim)
    if not ids and off > 0:
        head["prev"] = _page_url(base, params, lim, max(0, off - lim))
    body = _collection(head, [view.to_json(n, base) for view, n in page], warnings)
    return Response(body, media_type="application/json")


@router.get("/order/{order_id}")
async def get_order(
    order_id: str,
    request: Request,
    sandbox: SandboxDep,
    authorization: Annotated[str | None, Header()] = None,
    fieldGroups: str | None = None,
) -> JSONResponse:
    """One order with cancelRequests filled in."""
    seller = authorize_call(sandbox, authorization, Api.FULFILLMENT)
    _check_field_groups(fieldGroups)
    now_ms = sandbox.clock.now_ms()
    found, _missing = select_by_ids(sandbox.stream(seller), [order_id], now_ms)
    if not found:
        entry = error_entry(
            32100, DOMAIN, "REQUEST", f"Invalid order ID: {order_id}", None, {"orderId": order_id}
        )
        raise EbayApiError(404, [entry])
    view, applied = found[0]
    return JSONResponse(view.to_dict(applied, base_url(request), full=True))
