"""Sell Fulfillment API: getOrders and getOrder."""

from typing import Any

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import Call, scopes
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.fulfillment.query import (
    DOMAIN,
    Selected,
    bad_request,
    parse_filter,
    select_by_ids,
    select_orders,
)
from ebay_sandbox.fulfillment.render import order_json
from ebay_sandbox.gateway import rest_call
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.paging import collection, dumps, int_param, page_head
from ebay_sandbox.state import SandboxDep
from ebay_sandbox.world.order_state import OrderRecord

router = APIRouter(prefix="/sell/fulfillment/v1")
ORDER_PATH = "/sell/fulfillment/v1/order"
DEFAULT_LIMIT, MAX_LIMIT, MAX_ORDER_IDS = 50, 200, 50
FIELD_GROUPS = frozenset({"TAX_BREAKDOWN"})
ACCEPTED = scopes("sell.fulfillment", "sell.fulfillment.readonly")
_FAMILIES = frozenset({"orders"})
GET_ORDERS = Endpoint(
    "getOrders", _FAMILIES, ApiStyle.REST, paged=True, error_id=30500, domain=DOMAIN
)
GET_ORDER = Endpoint("getOrder", _FAMILIES, ApiStyle.REST, error_id=30500, domain=DOMAIN)


def _tax_breakdown(raw: str | None) -> bool:
    """Whether ``fieldGroups`` asks for TAX_BREAKDOWN; an unknown group is a 400."""
    groups = {group.strip() for group in (raw or "").split(",") if group.strip()}
    unknown = sorted(groups - FIELD_GROUPS)
    if unknown:
        raise bad_request(32800, f"Invalid field group: {unknown[0]}", fieldGroups=unknown[0])
    return "TAX_BREAKDOWN" in groups


def order_bytes(call: Call, record: OrderRecord, applied: int, *, tax_breakdown: bool) -> bytes:
    """getOrders form of an order, rendered once per state and field group."""
    key = ("order", call.seller.index, record.plan.index, applied, call.base, tax_breakdown)
    return call.sandbox.rendered.get_or_make(
        key,
        lambda: dumps(
            order_json(record, applied, call.base, full=False, tax_breakdown=tax_breakdown)
        ),
    )


def _page(call: Call, params: dict[str, str | None], horizon: Horizon) -> bytes:
    filter_, order_ids, field_groups = params["filter"], params["orderIds"], params["fieldGroups"]
    now_ms = call.now_ms
    extra = [("fieldGroups", field_groups)] if field_groups else []
    ids = [i.strip() for i in (order_ids or "").split(",") if i.strip()]
    warnings: list[dict[str, Any]] = []
    if ids:
        horizon.change_at(now_ms + 1)  # not cached: ids are looked up one by one
        if len(ids) > MAX_ORDER_IDS:
            message = f"Exceeded maximum number of order IDs (the current limit is {MAX_ORDER_IDS})"
            raise bad_request(30900, message, orderIds=order_ids or "")
        selected, missing = select_by_ids(call.world, ids, now_ms)
        warnings = [
            error_entry(32100, DOMAIN, "REQUEST", f"Invalid order ID: {m}", None, {"orderId": m})
            for m in missing
        ]
        lim, off = DEFAULT_LIMIT, 0  # eBay ignores limit/offset with orderIds
        page = selected
        query = [("orderIds", ",".join(ids)), *extra]
    else:
        lim_value = int_param(params["limit"], default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        if lim_value is None:
            raise bad_request(
                31100, f"Invalid limit: {params['limit']}", limit=params["limit"] or ""
            )
        off_value = int_param(params["offset"], default=0, low=0, high=None)
        if off_value is None:
            raise bad_request(
                31000, f"Invalid offset: {params['offset']}", offset=params["offset"] or ""
            )
        lim, off = lim_value, off_value
        flt = parse_filter(filter_, now_ms)

        def build(inner: Horizon) -> Selected:
            return select_orders(call.world, flt, inner)

        selected = call.selection((filter_,), build, horizon)
        page = selected[off : off + call.page_size(lim)]
        query = [("filter", filter_)] if filter_ else []
        query += extra
    head = page_head(
        call.base, ORDER_PATH, query, limit=lim, offset=off, total=len(selected), returned=len(page)
    )
    if ids:
        head.pop("next", None)
        head.pop("prev", None)
    tail = {"warnings": warnings} if warnings else None
    tax_breakdown = _tax_breakdown(field_groups)
    orders = [order_bytes(call, r, n, tax_breakdown=tax_breakdown) for r, n in page]
    return collection(head, "orders", orders, tail)


@router.get("/order")
async def get_orders(
    request: Request,
    sandbox: SandboxDep,
    filter: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
    orderIds: str | None = None,
    fieldGroups: str | None = None,
) -> Response:
    """Orders of the token's seller, newest first, paged with limit/offset."""
    call = await rest_call(sandbox, request, GET_ORDERS, ACCEPTED)
    _tax_breakdown(fieldGroups)
    params = {
        "filter": filter,
        "limit": limit,
        "offset": offset,
        "orderIds": orderIds,
        "fieldGroups": fieldGroups,
    }
    body = call.cached(tuple(params.values()), lambda horizon: _page(call, params, horizon))
    return call.respond(body)


@router.get("/order/{order_id}")
async def get_order(
    order_id: str, request: Request, sandbox: SandboxDep, fieldGroups: str | None = None
) -> Response:
    """One order with cancelRequests filled in."""
    call = await rest_call(sandbox, request, GET_ORDER, ACCEPTED)
    tax_breakdown = _tax_breakdown(fieldGroups)
    found, _missing = select_by_ids(call.world, [order_id], call.now_ms)
    if not found:
        entry = error_entry(
            32100, DOMAIN, "REQUEST", f"Invalid order ID: {order_id}", None, {"orderId": order_id}
        )
        raise EbayApiError(404, [entry])
    record, applied = found[0]
    return call.respond(
        dumps(order_json(record, applied, call.base, full=True, tax_breakdown=tax_breakdown))
    )
