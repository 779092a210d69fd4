"""Post-Order v2 search (each with its own date-parameter names) and get-by-id.

eBay's own sandbox does not support these searches; this follows the fact sheet (section 3):
``from`` at most 18 months back, ``from`` without ``to`` means a 90-day window.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import Call
from ebay_sandbox.clock import DAY
from ebay_sandbox.errors import PostOrderError
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.gateway import post_order_call
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.paging import dumps, int_param, parse_timestamp
from ebay_sandbox.postorder.render import (
    RETURN_STATES,
    case_member,
    history,
    inquiry_member,
    is_open,
    return_member,
)
from ebay_sandbox.state import SandboxDep
from ebay_sandbox.strictness import Strictness
from ebay_sandbox.world.model import Flow, FlowKind, OrderPlan

router = APIRouter(prefix="/post-order/v2")
LOOKBACK_MS = 548 * DAY  # 18 months
WINDOW_MS = 90 * DAY
DEFAULT_LIMIT = 25  # the maximum (200 unless a strictness variant says less): Strictness
Json = dict[str, Any]
Member = Callable[[OrderPlan, Flow, int, str], Json]


@dataclass(frozen=True)
class Resource:
    """One Post-Order search resource."""

    kind: FlowKind
    date_from: str
    date_to: str
    status_param: str
    statuses: frozenset[str]
    total_key: str | None
    search: Endpoint
    get: Endpoint


def _endpoints(name: str, family: str) -> tuple[Endpoint, Endpoint]:
    families = frozenset({family})
    return (
        Endpoint(f"search{name}", families, ApiStyle.POST_ORDER, paged=True),
        Endpoint(f"get{name}", families, ApiStyle.POST_ORDER),
    )


RETURNS = Resource(
    FlowKind.RETURN,
    "creation_date_range_from",
    "creation_date_range_to",
    "states",
    frozenset(state for state, _ in RETURN_STATES.values()),
    None,
    *_endpoints("Return", "returns"),
)
CASES = Resource(
    FlowKind.CASE,
    "case_creation_date_range_from",
    "case_creation_date_range_to",
    "case_status_filter",
    frozenset({"OPEN", "CLOSED", "ON_HOLD", "OTHER"}),
    "totalNumberOfCases",
    *_endpoints("Case", "cases"),
)
INQUIRIES = Resource(
    FlowKind.INQUIRY,
    "inquiry_creation_date_range_from",
    "inquiry_creation_date_range_to",
    "inquiry_status",
    frozenset(
        {
            "OPEN",
            "CLOSED",
            "CLOSED_WITH_ESCALATION",
            "WAITING_BUYER_RESPONSE",
            "WAITING_SELLER_RESPONSE",
            "PENDING",
            "CS_CLOSED",
            "OTHER",
        }
    ),
    "totalNumberOfInquiries",
    *_endpoints("Inquiry", "inquiries"),
)


def _invalid(name: str, value: str | None, why: str = "is invalid") -> PostOrderError:
    return PostOrderError(400, 1003, f"The value of {name} {why}.", f"{name}={value or ''}")


def date_window(
    raw_from: str | None, raw_to: str | None, resource: Resource, now_ms: int
) -> tuple[int, int]:
    """The creation-date window of a search (inclusive)."""
    try:
        start = parse_timestamp(raw_from, round_up=True) if raw_from else None
        end = parse_timestamp(raw_to) if raw_to else None
    except ValueError as exc:
        raise _invalid(resource.date_from if raw_from else resource.date_to, str(exc)) from exc
    if start is None and end is None:
        start, end = now_ms - LOOKBACK_MS, now_ms
    elif start is None:
        assert end is not None
        start = end - WINDOW_MS
    elif end is None:
        end = start + WINDOW_MS
    if start < now_ms - LOOKBACK_MS:
        raise _invalid(resource.date_from, raw_from, "is more than 18 months in the past")
    if start > now_ms or start > end:
        raise _invalid(resource.date_from, raw_from)
    return start, min(end, now_ms)


Selected = list[tuple[OrderPlan, Flow]]


def select_flows(call: Call, resource: Resource, low: int, high: int, horizon: Horizon) -> Selected:
    """Flows of ``resource`` opened in ``[low, high]`` (at most now)."""
    world = call.world
    found = []
    for index, flow in world.flows(frozenset({resource.kind}), low, min(high, horizon.now_ms)):
        horizon.changes_at(flow.step_times)
        found.append((world.orders.get(index).plan, flow))
    if high >= horizon.now_ms:
        horizon.change_at(horizon.now_ms + DAY)  # new flows may open: re-check at least daily
    horizon.change_at(low + LOOKBACK_MS + 1)
    return found


def _state_of(resource: Resource, flow: Flow, now_ms: int) -> str:
    state = flow.step(now_ms).state
    return RETURN_STATES[state][0] if resource.kind is FlowKind.RETURN else state


def _filters(call: Call, resource: Resource) -> Callable[[OrderPlan, Flow], bool]:
    params = call.request.query_params
    item_id, order_id = params.get("item_id"), params.get("order_id")
    transaction_id, return_id = params.get("transaction_id"), params.get("return_id")
    wanted = {s.strip() for s in (params.get(resource.status_param) or "").split(",") if s.strip()}
    if wanted - resource.statuses:
        raise _invalid(resource.status_param, ",".join(sorted(wanted - resource.statuses)))
    return_state = params.get("return_state") if resource.kind is FlowKind.RETURN else None
    if return_state not in (None, "ALL_OPEN", "ALL_CLOSED"):
        raise _invalid("return_state", return_state)
    now_ms = call.now_ms

    def keep(plan: OrderPlan, flow: Flow) -> bool:
        line = plan.lines[flow.line]
        if item_id and line.listing.item_id != item_id:
            return False
        if transaction_id and line.transaction_id != transaction_id:
            return False
        if order_id and plan.order_id != order_id:
            return False
        if return_id and not any(
            f.kind is FlowKind.RETURN and f.flow_id == return_id for f in plan.flows
        ):
            return False
        if wanted and _state_of(resource, flow, now_ms) not in wanted:
            return False
        if return_state == "ALL_OPEN" and not is_open(flow, now_ms):
            return False
        return not (return_state == "ALL_CLOSED" and is_open(flow, now_ms))

    return keep


def _member(resource: Resource, strict: Strictness) -> Member:
    if resource.kind is FlowKind.RETURN:
        return return_member
    if resource.kind is FlowKind.CASE:
        return lambda plan, flow, now, _base: case_member(plan, flow, now)
    last_modified = strict.inquiry_last_modified
    return lambda plan, flow, now, _base: inquiry_member(
        plan, flow, now, last_modified=last_modified
    )


def _check_range(resource: Resource, params: Any, low: int, high: int, strict: Strictness) -> None:
    """The ``postorder-max-range-days-N`` variant: a longer range is refused, naming the date
    parameter; a date-less search is one over the whole lookback."""
    days = strict.post_order_max_range_days
    if days is None or high - low <= days * DAY:
        return
    raw_from = params.get(resource.date_from)
    if raw_from is None:
        raise _invalid(resource.date_from, None, f"is required (a range of at most {days} days)")
    raise _invalid(resource.date_from, raw_from, f"starts a range longer than {days} days")


def _search_page(call: Call, resource: Resource, horizon: Horizon) -> bytes:
    params = call.request.query_params
    strict = call.sandbox.config.strict
    limit = int_param(
        params.get("limit"), default=DEFAULT_LIMIT, low=1, high=strict.post_order_max_limit
    )
    offset = int_param(params.get("offset"), default=0, low=0, high=None)
    if limit is None:
        raise _invalid("limit", params.get("limit"))
    if offset is None:
        raise _invalid("offset", params.get("offset"))
    low, high = date_window(
        params.get(resource.date_from), params.get(resource.date_to), resource, call.now_ms
    )
    _check_range(resource, params, low, high, strict)
    keep = _filters(call, resource)
    ascending = "ASC" in (params.get("sort") or "").upper()

    def select(inner: Horizon) -> Selected:
        found = [(p, f) for p, f in select_flows(call, resource, low, high, inner) if keep(p, f)]
        found.sort(key=lambda item: (item[1].created_ms, item[1].flow_id), reverse=not ascending)
        return found

    key = tuple((k, v) for k, v in params.multi_items() if k not in ("limit", "offset"))
    chosen = call.selection(key, select, horizon)
    page = chosen[offset : offset + call.page_size(limit)]
    if not page and strict.post_order_empty_without_paging:
        return dumps({})
    member = _member(resource, strict)
    body: Json = {
        "members": [member(p, f, call.now_ms, call.base) for p, f in page],
        "paginationOutput": {
            "limit": limit,
            "offset": offset,
            "totalEntries": len(chosen),
            "totalPages": -(-len(chosen) // limit),
        },
    }
    if resource.total_key is not None:
        body[resource.total_key] = len(chosen)
    else:
        body["total"] = 0  # documented for returns as "not currently used"
    return dumps(body)


async def _search(request: Request, sandbox: Any, resource: Resource) -> Response:
    call = await post_order_call(sandbox, request, resource.search)
    key = tuple(request.query_params.multi_items())
    return call.respond(call.cached(key, lambda horizon: _search_page(call, resource, horizon)))


async def _get(request: Request, sandbox: Any, resource: Resource, flow_id: str) -> Response:
    call = await post_order_call(sandbox, request, resource.get)
    found = call.world.find_flow(resource.kind, flow_id, call.now_ms)
    if found is None:
        raise PostOrderError(
            404, 1002, f"The {resource.kind.value.lower()} {flow_id} was not found."
        )
    plan = call.world.orders.get(found[0]).plan
    flow = found[1]
    if resource.kind is FlowKind.RETURN:
        line = plan.lines[flow.line]
        body: Json = {
            "summary": return_member(plan, flow, call.now_ms, call.base),
            "detail": {
                "itemDetail": {
                    "itemId": line.listing.item_id,
                    "itemTitle": line.listing.title,
                    "transactionId": line.transaction_id,
                    "returnQuantity": line.quantity,
                },
                "responseHistory": history(flow, call.now_ms),
            },
        }
    else:
        body = _member(resource, call.sandbox.config.strict)(plan, flow, call.now_ms, call.base)
        body["caseType" if resource.kind is FlowKind.CASE else "inquiryType"] = (
            "INR" if flow.reason in ("INR", "ITEM_NOT_RECEIVED") else "SNAD"
        )
        body["orderId"] = plan.order_id
        body["history"] = history(flow, call.now_ms)
    return call.respond(dumps(body))


@router.get("/return/search")
async def search_returns(request: Request, sandbox: SandboxDep) -> Response:
    """Returns by ``creation_date_range_from``/``_to``."""
    return await _search(request, sandbox, RETURNS)


@router.get("/casemanagement/search")
async def search_cases(request: Request, sandbox: SandboxDep) -> Response:
    """Cases by ``case_creation_date_range_from``/``_to``."""
    return await _search(request, sandbox, CASES)


@router.get("/inquiry/search")
async def search_inquiries(request: Request, sandbox: SandboxDep) -> Response:
    """Inquiries by ``inquiry_creation_date_range_from``/``_to``."""
    return await _search(request, sandbox, INQUIRIES)


@router.get("/return/{return_id}")
async def get_return(return_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """One return: ``{"summary", "detail"}``."""
    return await _get(request, sandbox, RETURNS, return_id)


@router.get("/casemanagement/{case_id}")
async def get_case(case_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """One case."""
    return await _get(request, sandbox, CASES, case_id)


@router.get("/inquiry/{inquiry_id}")
async def get_inquiry(inquiry_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """One inquiry."""
    return await _get(request, sandbox, INQUIRIES, inquiry_id)
