"""Post-Order JSON: dates are ``{value, formattedValue}``, money ``{value: number, currency}``."""

from typing import Any

from ebay_sandbox.clock import from_ms, iso_ms
from ebay_sandbox.world.aftersale import RETURN_REASONS
from ebay_sandbox.world.model import Flow, OrderPlan

Json = dict[str, Any]
# Step of the sandbox's return flow -> (state, status) as Post-Order reports them.
RETURN_STATES = {
    "RETURN_REQUESTED": ("RETURN_REQUESTED", "RETURN_REQUESTED"),
    "READY_FOR_SHIPPING": ("ITEM_READY_TO_SHIP", "READY_FOR_SHIPPING"),
    "ITEM_SHIPPED": ("ITEM_SHIPPED", "ITEM_SHIPPED"),
    "ITEM_DELIVERED": ("ITEM_DELIVERED", "ITEM_DELIVERED"),
    "ESCALATED": ("RETURN_ESCALATED", "ESCALATED"),
    "CLOSED": ("CLOSED", "CLOSED"),
}
_SELLER_DUE = {
    "RETURN_REQUESTED": "SELLER_APPROVE_REQUEST",
    "ITEM_DELIVERED": "SELLER_ISSUE_REFUND",
}
_REASON_TYPE = dict(RETURN_REASONS)


def date(ms: int) -> Json:
    """``{"value": ISO, "formattedValue": "Feb 20, 2026"}``."""
    moment = from_ms(ms)
    return {"value": iso_ms(ms), "formattedValue": f"{moment:%b} {moment.day}, {moment.year}"}


def amount(cents: int, currency: str) -> Json:
    """Post-Order money: a JSON number."""
    return {"value": round(cents / 100, 2), "currency": currency}


def is_open(flow: Flow, now_ms: int) -> bool:
    """Not closed yet at ``now_ms``."""
    return flow.closed_ms(now_ms) is None


def return_member(plan: OrderPlan, flow: Flow, now_ms: int, base: str) -> Json:
    """``ReturnSummaryType``."""
    step = flow.step(now_ms)
    state, status = RETURN_STATES[step.state]
    line = plan.lines[flow.line]
    refund = amount(flow.amount_cents, plan.currency)
    seller_refund: Json = {"estimatedRefundAmount": refund}
    if flow.refund_ms is not None and flow.refund_ms <= now_ms:
        seller_refund["actualRefundAmount"] = refund
    body: Json = {
        "returnId": flow.flow_id,
        "buyerLoginName": plan.buyer_username,
        "sellerLoginName": plan.seller.username,
        "currentType": "MONEY_BACK",
        "state": state,
        "status": status,
        "creationInfo": {
            "item": {
                "itemId": line.listing.item_id,
                "transactionId": line.transaction_id,
                "returnQuantity": line.quantity,
            },
            "type": "MONEY_BACK",
            "reason": flow.reason,
            "reasonType": _REASON_TYPE.get(flow.reason, "SNAD"),
            "comments": {"content": "Please see the photos I sent."},
            "creationDate": date(flow.created_ms),
        },
        "sellerTotalRefund": seller_refund,
        "buyerTotalRefund": dict(seller_refund),
    }
    activity = _SELLER_DUE.get(step.state)
    if activity is not None and step.due_ms is not None:
        body["sellerResponseDue"] = {"activityDue": activity, "respondByDate": date(step.due_ms)}
        body["sellerAvailableOptions"] = [
            {
                "actionType": activity,
                "actionURL": f"{base}/post-order/v2/return/{flow.flow_id}/"
                + ("decide" if activity == "SELLER_APPROVE_REQUEST" else "issue_refund"),
            }
        ]
    return body


def _claim(
    plan: OrderPlan,
    flow: Flow,
    now_ms: int,
    id_key: str,
    status_key: str,
    *,
    last_modified: bool = True,
) -> Json:
    step = flow.step(now_ms)
    line = plan.lines[flow.line]
    body: Json = {
        id_key: int(flow.flow_id),
        status_key: step.state,
        "buyer": plan.buyer_username,
        "seller": plan.seller.username,
        "itemId": int(line.listing.item_id),
        "transactionId": int(line.transaction_id),
        "claimAmount": amount(flow.amount_cents, plan.currency),
        "creationDate": date(flow.created_ms),
        "lastModifiedDate": date(step.at_ms),
    }
    if not last_modified:
        del body["lastModifiedDate"]
    due = next((s.due_ms for s in reversed(flow.steps[: flow.applied(now_ms)]) if s.due_ms), None)
    if is_open(flow, now_ms) and due is not None:
        body["respondByDate"] = date(due)
    return body


def case_member(plan: OrderPlan, flow: Flow, now_ms: int) -> Json:
    """``CaseSummaryType``."""
    return _claim(plan, flow, now_ms, "caseId", "caseStatusEnum")


def inquiry_member(plan: OrderPlan, flow: Flow, now_ms: int, *, last_modified: bool = True) -> Json:
    """Inquiry search member; ``last_modified=False`` leaves ``lastModifiedDate`` out (the
    ``inquiry-no-lastmodified`` variant: no document promises it)."""
    return _claim(plan, flow, now_ms, "inquiryId", "inquiryStatusEnum", last_modified=last_modified)


def history(flow: Flow, now_ms: int) -> list[Json]:
    """Every step so far, oldest first."""
    return [
        {
            "activity": s.state,
            "author": "BUYER" if i == 0 else "SYSTEM",
            "creationDate": date(s.at_ms),
        }
        for i, s in enumerate(flow.steps[: flow.applied(now_ms)])
    ]
