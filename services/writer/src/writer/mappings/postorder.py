"""Post-Order cases, inquiries and returns, and Fulfillment payment disputes.

Post-Order writes dates as ``{"value": ISO, "formattedValue": …}``, money as
``{"value": number, "currency": …}`` and case/inquiry/item ids as JSON numbers (fact sheet §3);
the columns hold ids as text, as every other table does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from writer.domain import MalformedRecordError, Mapped, parse_amount, parse_timestamp, required_str


def _id(raw: dict[str, Any], field: str) -> str:
    """An id that Post-Order may send as a number or a string."""
    value = raw.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise MalformedRecordError(f"{field} is missing")
    return str(value)


def _optional_id(raw: dict[str, Any], field: str) -> str | None:
    value = raw.get(field)
    return None if isinstance(value, bool) or not isinstance(value, int | str) else str(value)


def _post_order_date(value: object, field: str) -> datetime:
    """A Post-Order ``DateTime`` object; raises when it is missing."""
    return parse_timestamp(value.get("value") if isinstance(value, dict) else None, field)


def _optional_post_order_date(value: object, field: str) -> datetime | None:
    return _post_order_date(value, field) if isinstance(value, dict) else None


def _optional_timestamp(value: object, field: str) -> datetime | None:
    return None if value is None else parse_timestamp(value, field)


def version_date(raw: dict[str, Any]) -> datetime:
    """The claim's version: ``lastModifiedDate``, or else the newest date the record holds.

    Inquiries are not documented to carry ``lastModifiedDate`` (fact sheet §3, "[obs] only").
    Without it the newest of ``creationDate`` and any ``history[].creationDate`` stands in: the
    row still gets a version (a NULL one could never be updated again), and as the version
    guard lets an equal version through, later answers of the same claim still update it in the
    order they arrive. Deadlines (``respondByDate``) are not modifications and never count.
    """
    if isinstance(raw.get("lastModifiedDate"), dict):
        return _post_order_date(raw["lastModifiedDate"], "lastModifiedDate")
    dates = [_post_order_date(raw.get("creationDate"), "creationDate")]
    steps = raw.get("history")
    for step in steps if isinstance(steps, list) else []:
        moment = step.get("creationDate") if isinstance(step, dict) else None
        if isinstance(moment, dict):
            dates.append(_post_order_date(moment, "history.creationDate"))
    return max(dates)


def _claim(account_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """What a case and an inquiry member share."""
    claim_value, claim_currency = parse_amount(raw.get("claimAmount"))
    return {
        "account_id": account_id,
        "item_id": _optional_id(raw, "itemId"),
        "transaction_id": _optional_id(raw, "transactionId"),
        "buyer": raw.get("buyer"),
        "claim_amount_value": claim_value,
        "claim_amount_currency": claim_currency,
        "creation_date": _post_order_date(raw.get("creationDate"), "creationDate"),
        # The table's version column: never NULL, or the row could never be updated again.
        "last_modified_date": version_date(raw),
        "respond_by_date": _optional_post_order_date(raw.get("respondByDate"), "respondByDate"),
        "payload": raw,
    }


def map_case(account_id: int, raw: dict[str, Any]) -> Mapped:
    """A ``CaseSummaryType`` as its ``ebay_cases`` row."""
    row = _claim(account_id, raw)
    row |= {"case_id": _id(raw, "caseId"), "case_status": raw.get("caseStatusEnum")}
    return Mapped(row)


def map_inquiry(account_id: int, raw: dict[str, Any]) -> Mapped:
    """An inquiry search member as its ``ebay_inquiries`` row."""
    row = _claim(account_id, raw)
    row |= {"inquiry_id": _id(raw, "inquiryId"), "inquiry_status": raw.get("inquiryStatusEnum")}
    return Mapped(row)


def map_return(account_id: int, raw: dict[str, Any]) -> Mapped:
    """A ``ReturnSummaryType`` as its ``ebay_returns`` row."""
    creation = raw.get("creationInfo") or {}
    item = creation.get("item") or {}
    refund = raw.get("sellerTotalRefund") or {}
    # Once the refund is made its actual amount is the total; until then, the estimate.
    refund_value, refund_currency = parse_amount(
        refund.get("actualRefundAmount") or refund.get("estimatedRefundAmount")
    )
    due = raw.get("sellerResponseDue") or {}
    row = {
        "account_id": account_id,
        "return_id": _id(raw, "returnId"),
        "state": raw.get("state"),
        "status": raw.get("status"),
        "current_type": raw.get("currentType"),
        "item_id": _optional_id(item, "itemId"),
        "transaction_id": _optional_id(item, "transactionId"),
        "buyer_login_name": raw.get("buyerLoginName"),
        "seller_total_refund_value": refund_value,
        "seller_total_refund_currency": refund_currency,
        "creation_date": _post_order_date(
            creation.get("creationDate"), "creationInfo.creationDate"
        ),
        "seller_response_due": _optional_post_order_date(
            due.get("respondByDate"), "sellerResponseDue.respondByDate"
        ),
        "payload": raw,
    }
    return Mapped(row)


def map_payment_dispute(account_id: int, raw: dict[str, Any]) -> Mapped:
    """A Fulfillment ``PaymentDisputeSummary`` as its ``ebay_payment_disputes`` row."""
    amount_value, amount_currency = parse_amount(raw.get("amount"))
    row = {
        "account_id": account_id,
        "payment_dispute_id": required_str(raw, "paymentDisputeId"),
        "payment_dispute_status": raw.get("paymentDisputeStatus"),
        "reason": raw.get("reason"),
        "order_id": raw.get("orderId"),
        "amount_value": amount_value,
        "amount_currency": amount_currency,
        "open_date": parse_timestamp(raw.get("openDate"), "openDate"),
        "closed_date": _optional_timestamp(raw.get("closedDate"), "closedDate"),
        "respond_by_date": _optional_timestamp(raw.get("respondByDate"), "respondByDate"),
        "payload": raw,
    }
    return Mapped(row)
