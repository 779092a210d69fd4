"""Sell Finances API: getTransactions, getPayouts, getPayout (HTTP 204 when nothing matches)."""

from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import Call, scopes
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.finances.query import (
    DOMAIN,
    LOOKBACK_MS,
    PAYOUT_STATUSES,
    TRANSACTION_STATUSES,
    TRANSACTION_TYPES,
    bad_request,
    criteria,
    parse_range,
    value_set,
)
from ebay_sandbox.finances.render import payout_json, transaction_json
from ebay_sandbox.finances.select import select_payouts, select_transactions
from ebay_sandbox.gateway import rest_call
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.paging import collection, dumps, int_param, page_head
from ebay_sandbox.state import Sandbox, SandboxDep
from ebay_sandbox.world.ledger import parse_payout_id

router = APIRouter(prefix="/sell/finances/v1")
TRANSACTION_PATH = "/sell/finances/v1/transaction"
PAYOUT_PATH = "/sell/finances/v1/payout"
ACCEPTED = scopes("sell.finances")
_T = frozenset({"transactions"})
_P = frozenset({"finances", "payouts"})
GET_TRANSACTIONS = Endpoint(
    "getTransactions", _T, ApiStyle.REST, paged=True, error_id=135000, domain=DOMAIN
)
GET_PAYOUTS = Endpoint("getPayouts", _P, ApiStyle.REST, paged=True, error_id=135000, domain=DOMAIN)
GET_PAYOUT = Endpoint("getPayout", _P, ApiStyle.REST, error_id=135000, domain=DOMAIN)
_SET_FILTERS = {
    "transactionType": (TRANSACTION_TYPES, 135006, "transaction type"),
    "transactionStatus": (TRANSACTION_STATUSES, 135007, "transaction status"),
    "orderId": (None, 135008, "order id"),
    "payoutId": (None, 135008, "payout id"),
    "buyerUsername": (None, 135008, "buyer username"),
    "transactionId": (None, 135008, "transaction id"),
}


def _paging(limit: str | None, offset: str | None, max_limit: int) -> tuple[int, int]:
    lim = int_param(limit, default=20, low=1, high=max_limit)
    off = int_param(offset, default=0, low=0, high=None)
    if lim is None or off is None:
        raise bad_request(135003, "The value of pagination is invalid.", limit=limit or "")
    return lim, off


def _transactions_page(call: Call, query: list[tuple[str, str]], horizon: Horizon) -> bytes:
    now_ms = call.now_ms
    params = dict(call.request.query_params)
    low, high = now_ms - LOOKBACK_MS, now_ms
    sets: dict[str, frozenset[str]] = {}
    for name, value in criteria(call.request.query_params.getlist("filter")):
        if name == "transactionDate":
            low, high = parse_range(
                value, now_ms, invalid=135008, too_old=135015, too_long=135016, name=name
            )
            continue
        if name not in _SET_FILTERS:
            raise bad_request(135008, f"The filter {name} is invalid.", filter=name)
        allowed, error_id, label = _SET_FILTERS[name]
        values = value_set(value)
        if values is None or (allowed is not None and not values <= allowed):
            raise bad_request(error_id, f"The value of {label} filter is invalid.", filter=name)
        sets[name] = values
    if "transactionId" in sets and "transactionType" not in sets:
        raise bad_request(135009, "Transaction type filter is missing.", filter="transactionId")
    sort = params.get("sort")
    if sort not in (None, "transactionDate", "-transactionDate"):
        raise bad_request(135005, "The value of sort is invalid.", sort=sort or "")
    lim, off = _paging(params.get("limit"), params.get("offset"), 1000)
    key = (tuple(call.request.query_params.getlist("filter")), sort)
    chosen = call.selection(
        key,
        lambda inner: select_transactions(
            call.world, low, high, sets, inner, ascending=sort == "transactionDate"
        ),
        horizon,
    )
    if not chosen:
        return b""
    page = chosen[off : off + call.page_size(lim)]
    head = page_head(
        call.base,
        TRANSACTION_PATH,
        query,
        limit=lim,
        offset=off,
        total=len(chosen),
        returned=len(page),
    )
    items = [dumps(transaction_json(call.world, e, now_ms)) for e in page]
    return collection(head, "transactions", items)


async def _search(
    sandbox: Sandbox,
    request: Request,
    endpoint: Endpoint,
    page: Callable[[Call, list[tuple[str, str]], Horizon], bytes],
) -> Response:
    """A paged search: ``page`` renders it (cached per query), 204 when nothing matches."""
    call = await rest_call(sandbox, request, endpoint, ACCEPTED, signed=True)
    params = request.query_params.multi_items()
    query = [(k, v) for k, v in params if k not in ("limit", "offset")]
    body = call.cached(tuple(params), lambda horizon: page(call, query, horizon))
    # eBay: "If no monetary transactions match the input criteria, HTTP 204 No Content".
    return call.respond(body) if body else Response(status_code=204)


@router.get("/transaction")
async def get_transactions(request: Request, sandbox: SandboxDep) -> Response:
    """Monetary transactions, newest first (``sort=transactionDate`` for oldest first)."""
    return await _search(sandbox, request, GET_TRANSACTIONS, _transactions_page)


def _payouts_page(call: Call, query: list[tuple[str, str]], horizon: Horizon) -> bytes:
    now_ms = call.now_ms
    params = dict(call.request.query_params)
    low, high = now_ms - LOOKBACK_MS, now_ms
    status: str | None = None
    by_attempt = False
    for name, value in criteria(call.request.query_params.getlist("filter")):
        if name in ("payoutDate", "lastAttemptedPayoutDate"):
            low, high = parse_range(
                value, now_ms, invalid=135004, too_old=135013, too_long=135014, name=name
            )
            by_attempt = name == "lastAttemptedPayoutDate"
        elif name == "payoutStatus":
            values = value_set(value)
            if values is None or len(values) != 1 or not values <= PAYOUT_STATUSES:
                raise bad_request(135002, "The value of payout status filter is invalid.")
            status = next(iter(values))
        else:
            raise bad_request(135004, f"The filter {name} is invalid.", filter=name)
    if by_attempt and status != "RETRYABLE_FAILED":
        raise bad_request(135002, "The value of payout status filter is invalid.")
    sort = params.get("sort")
    sorts = (
        None,
        "payoutDate",
        "-payoutDate",
        "lastAttemptedPayoutDate",
        "-lastAttemptedPayoutDate",
    )
    if sort not in sorts:
        raise bad_request(135005, "The value of sort is invalid.", sort=sort or "")
    lim, off = _paging(params.get("limit"), params.get("offset"), 200)
    ascending = sort is not None and not sort.startswith("-")
    key = (tuple(call.request.query_params.getlist("filter")), sort)
    chosen = call.selection(
        key,
        lambda inner: select_payouts(
            call.world, low, high, status, inner, by_attempt=by_attempt, ascending=ascending
        ),
        horizon,
    )
    if not chosen:
        return b""
    page = chosen[off : off + call.page_size(lim)]
    head = page_head(
        call.base, PAYOUT_PATH, query, limit=lim, offset=off, total=len(chosen), returned=len(page)
    )
    return collection(head, "payouts", [dumps(payout_json(call.seller, p, now_ms)) for p in page])


@router.get("/payout")
async def get_payouts(request: Request, sandbox: SandboxDep) -> Response:
    """Payouts, newest first."""
    return await _search(sandbox, request, GET_PAYOUTS, _payouts_page)


@router.get("/payout/{payout_id}")
async def get_payout(payout_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """One payout; 404 (135001) when unknown."""
    call = await rest_call(sandbox, request, GET_PAYOUT, ACCEPTED, signed=True)
    parsed = parse_payout_id(sandbox.config.seed, payout_id)
    payout = None
    if parsed is not None and parsed[0] == call.seller.index:
        payout = call.world.payout(parsed[1])
    if payout is None or payout.initiated_ms > call.now_ms:
        message = "The payout id was not found."
        entry = error_entry(135001, DOMAIN, "REQUEST", message, message, {"payout_Id": payout_id})
        raise EbayApiError(404, [entry])
    return call.respond(dumps(payout_json(call.seller, payout, call.now_ms)))
