"""Sell Fulfillment payment disputes (apiz host): getPaymentDisputeSummaries, getPaymentDispute."""

from typing import Any

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import Call, scopes
from ebay_sandbox.clock import DAY, iso_ms
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.gateway import rest_call
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.paging import collection, dumps, int_param, page_head, parse_timestamp
from ebay_sandbox.state import SandboxDep
from ebay_sandbox.world.model import Flow, FlowKind, OrderPlan
from ebay_sandbox.world.seller import SellerWorld

router = APIRouter(prefix="/sell/fulfillment/v1")
DOMAIN = "API_FULFILLMENT"
PATH = "/sell/fulfillment/v1/payment_dispute_summary"
ACCEPTED = scopes("sell.payment.dispute")
LOOKBACK_MS = 548 * DAY  # 18 months
MAX_RANGE_MS = 90 * DAY
RECENTLY_CLOSED_MS = 90 * DAY
STATUSES = frozenset({"OPEN", "ACTION_NEEDED", "CLOSED"})
_FAMILIES = frozenset({"payment_disputes"})
GET_SUMMARIES = Endpoint(
    "getPaymentDisputeSummaries",
    _FAMILIES,
    ApiStyle.REST,
    paged=True,
    error_id=33000,
    domain=DOMAIN,
)
GET_DISPUTE = Endpoint("getPaymentDispute", _FAMILIES, ApiStyle.REST, error_id=33000, domain=DOMAIN)
Json = dict[str, Any]
Selected = list[tuple[OrderPlan, Flow]]


def invalid(name: str, value: str) -> EbayApiError:
    """400 33001, the only request error the method documents."""
    message = "Invalid input request"
    entry = error_entry(33001, DOMAIN, "REQUEST", message, f"{message}: {name}", {name: value})
    return EbayApiError(400, [entry])


def status_of(flow: Flow, now_ms: int) -> str:
    """``paymentDisputeStatus`` at ``now_ms``."""
    return flow.step(now_ms).state


def summary_json(plan: OrderPlan, flow: Flow, now_ms: int) -> Json:
    """``PaymentDisputeSummary``."""
    step = flow.step(now_ms)
    body: Json = {
        "paymentDisputeId": flow.flow_id,
        "paymentDisputeStatus": step.state,
        "reason": flow.reason,
        "orderId": plan.order_id,
        "amount": _amount(plan, flow),
        "buyerUsername": plan.buyer_username,
        "openDate": iso_ms(flow.created_ms),
    }
    if step.state == "ACTION_NEEDED" and step.due_ms is not None:
        body["respondByDate"] = iso_ms(step.due_ms)
    closed = flow.closed_ms(now_ms)
    if closed is not None:
        body["closedDate"] = iso_ms(closed)
    return body


def _amount(plan: OrderPlan, flow: Flow) -> Json:
    cents = flow.amount_cents
    return {"value": f"{cents // 100}.{cents % 100:02d}", "currency": plan.currency}


def dispute_json(plan: OrderPlan, flow: Flow, now_ms: int) -> Json:
    """``PaymentDispute`` (the detail view)."""
    body = summary_json(plan, flow, now_ms)
    applied = flow.applied(now_ms)
    line = plan.lines[flow.line]
    body["revision"] = applied
    body["lineItems"] = [{"itemId": line.listing.item_id, "lineItemId": line.line_item_id}]
    step = flow.step(now_ms)
    if step.state == "ACTION_NEEDED":
        body["availableChoices"] = ["SELLER_ACCEPT", "SELLER_CONTEST"]
        body["evidenceRequests"] = [
            {
                "evidenceId": f"{flow.flow_id}-1",
                "evidenceType": "PROOF_OF_DELIVERY",
                "lineItems": body["lineItems"],
                "requestDate": iso_ms(step.at_ms),
                "respondByDate": iso_ms(step.due_ms or step.at_ms),
            }
        ]
    if applied >= 3:
        body["sellerResponse"] = "SELLER_CONTEST"
    if flow.closed_ms(now_ms) is not None:
        won = flow.outcome == "SELLER_WON"
        body["resolution"] = {
            "reasonForClosure": flow.outcome,
            "protectionStatus": "FULLY_PROTECTED" if won else "NOT_PROTECTED",
        }
    return body


def select_disputes(
    world: SellerWorld, low_ms: int, high_ms: int, horizon: Horizon, *, recent_only: bool
) -> Selected:
    """Disputes opened in ``[low_ms, high_ms]``; ``recent_only`` drops long-closed ones."""
    now_ms = horizon.now_ms
    horizon.change_at(low_ms + LOOKBACK_MS + 1 if recent_only else None)
    found: Selected = []
    for index, flow in world.flows(frozenset({FlowKind.DISPUTE}), low_ms, min(high_ms, now_ms)):
        horizon.changes_at(flow.step_times)
        closed = flow.closed_ms(now_ms)
        if recent_only and closed is not None:
            horizon.change_at(closed + RECENTLY_CLOSED_MS + 1)
            if closed < now_ms - RECENTLY_CLOSED_MS:
                continue
        found.append((world.orders.get(index).plan, flow))
    if high_ms >= now_ms:
        horizon.change_at(now_ms + DAY)  # new disputes: re-check at least daily
    found.sort(key=lambda item: (-item[1].created_ms, item[1].flow_id))
    return found


def _dates(call: Call, raw_from: str | None, raw_to: str | None) -> tuple[int, int, bool]:
    now_ms = call.now_ms
    try:
        start = parse_timestamp(raw_from, round_up=True) if raw_from else None
        end = parse_timestamp(raw_to) if raw_to else None
    except ValueError as exc:
        raise invalid("open_date_from" if raw_from else "open_date_to", str(exc)) from exc
    if start is None and end is None:
        return now_ms - LOOKBACK_MS, now_ms, True
    if start is None:
        assert end is not None
        start = end - MAX_RANGE_MS
    if end is None:
        end = min(start + MAX_RANGE_MS, now_ms)
    if start < now_ms - LOOKBACK_MS:
        raise invalid("open_date_from", raw_from or "")
    if start > end or end - start > MAX_RANGE_MS:
        raise invalid("open_date_to", raw_to or "")
    return start, end, False


@router.get("/payment_dispute_summary")
async def get_payment_dispute_summaries(
    request: Request,
    sandbox: SandboxDep,
    order_id: str | None = None,
    buyer_username: str | None = None,
    open_date_from: str | None = None,
    open_date_to: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    """Open and recently closed payment disputes, newest first."""
    call = await rest_call(sandbox, request, GET_SUMMARIES, ACCEPTED)
    statuses = request.query_params.getlist("payment_dispute_status")
    if any(s not in STATUSES for s in statuses):
        raise invalid("payment_dispute_status", ",".join(statuses))
    lim = int_param(limit, default=200, low=1, high=200)
    off = int_param(offset, default=0, low=0, high=None)
    if lim is None or off is None:
        raise invalid(
            "limit" if lim is None else "offset", (limit if lim is None else offset) or ""
        )
    low, high, recent_only = _dates(call, open_date_from, open_date_to)

    def select(horizon: Horizon) -> Selected:
        if order_id:  # "If this filter is used, any other filters are ignored."
            chosen = select_disputes(
                call.world, call.now_ms - LOOKBACK_MS, call.now_ms, horizon, recent_only=False
            )
            return [(p, f) for p, f in chosen if p.order_id == order_id]
        chosen = select_disputes(call.world, low, high, horizon, recent_only=recent_only)
        return [
            (p, f)
            for p, f in chosen
            if (not buyer_username or p.buyer_username == buyer_username)
            and (not statuses or status_of(f, call.now_ms) in statuses)
        ]

    def build(horizon: Horizon) -> bytes:
        key = (order_id, buyer_username, open_date_from, open_date_to, tuple(statuses))
        chosen = call.selection(key, select, horizon)
        page = chosen[off : off + call.page_size(lim)]
        query = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")
        ]
        head = page_head(
            call.base, PATH, query, limit=lim, offset=off, total=len(chosen), returned=len(page)
        )
        items = [dumps(summary_json(p, f, call.now_ms)) for p, f in page]
        return collection(head, "paymentDisputeSummaries", items)

    return call.respond(call.cached(tuple(request.query_params.multi_items()), build))


@router.get("/payment_dispute/{payment_dispute_id}")
async def get_payment_dispute(
    payment_dispute_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """One payment dispute; 404 (33001) when unknown."""
    call = await rest_call(sandbox, request, GET_DISPUTE, ACCEPTED)
    found = call.world.find_flow(FlowKind.DISPUTE, payment_dispute_id, call.now_ms)
    if found is None:
        message = "Invalid Payment Dispute Id"
        entry = error_entry(
            33001, DOMAIN, "REQUEST", message, message, {"payment_dispute_id": payment_dispute_id}
        )
        raise EbayApiError(404, [entry])
    plan = call.world.orders.get(found[0]).plan
    return call.respond(dumps(dispute_json(plan, found[1], call.now_ms)))
