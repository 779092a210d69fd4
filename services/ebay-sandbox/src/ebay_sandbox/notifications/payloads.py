"""What each change tells: REST notifications (topic, ``data``), field for field after the
contracts in notifications/ (AsyncAPI files, fact sheet §1, §2), and the notification values
both kinds share; the Trading Platform Notifications are in
:mod:`ebay_sandbox.notifications.trading_payloads`."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ebay_sandbox.clock import DAY, iso_ms
from ebay_sandbox.ids import base62
from ebay_sandbox.notifications.changes import Change, ChangeKind
from ebay_sandbox.world.model import EventKind, OrderPlan, Seller

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RestNotification:
    """``notification.data`` of one topic for one seller (``username`` None: application)."""

    topic: str
    username: str | None
    event_ms: int
    data: Json


@dataclass(frozen=True, slots=True)
class TradingNotification:
    """One Platform Notification; ``body(timestamp_ms)`` is the SOAP Body's root element."""

    event: str
    username: str
    event_ms: int
    body: Callable[[int], str]
    signed: bool = True  # resolution events (Return*, EBP*) come unsigned


def eias_token(seller: Seller) -> str:
    """The seller's EIAS token (as GetUser renders it)."""
    return base62(f"eias/{seller.user_id}", 40) + "=="


def _user(seller: Seller) -> Json:
    return {"userId": seller.user_id, "username": seller.username}


# --- REST -------------------------------------------------------------------------------------

_CANCEL = {
    EventKind.CANCEL_REQUESTED: ("CANCELLATION_REQUESTED", "REQUESTED"),
    EventKind.CANCEL_REJECTED: ("CANCELLATION_DECLINED", "DECLINED"),
    EventKind.CANCELLED: ("CANCELLATION_COMPLETED", "COMPLETED"),
}
_RETURN_ACTIVITY = {
    "RETURN_REQUESTED": "RETURN_REQUESTED",
    "READY_FOR_SHIPPING": "RETURN_FULFILLMENT_INITIATED",
    "ITEM_SHIPPED": "RETURN_FULFILLMENT_INITIATED",
    "ITEM_DELIVERED": "RETURN_FULFILLMENT_COMPLETED",
    "ESCALATED": "RETURN_REFERRAL_CREATED",
    "CLOSED": "RETURN_CLOSED",
}
_RETURN_FULFILLMENT = {
    "RETURN_REQUESTED": "AWAITING_RETURN_FULFILLMENT_DETAILS",
    "READY_FOR_SHIPPING": "AWAITING_RETURN_FULFILLMENT_INITIATION",
    "ITEM_SHIPPED": "RETURN_FULFILLMENT_IN_PROGRESS",
    "ITEM_DELIVERED": "RETURN_FULFILLMENT_COMPLETE",
}


def _order_rest(change: Change, plan: OrderPlan) -> list[RestNotification]:
    event, seller, at = change.event, change.seller, change.at_ms
    assert event is not None
    if event.kind is EventKind.PAID:
        # One per line item (fact sheet §1: an N-line order gives N notifications).
        return [
            RestNotification(
                "ORDER_CONFIRMATION",
                seller.username,
                at,
                {
                    "user": _user(seller),
                    "order": {
                        "orderId": plan.order_id,
                        "orderLineItems": [
                            {
                                "orderLineItemId": line.line_item_id,
                                "listingId": line.listing.item_id,
                                "quantity": line.quantity,
                            }
                        ],
                    },
                },
            )
            for line in plan.lines
        ]
    if event.kind is EventKind.SHIPPED:
        return [
            RestNotification(
                "ITEM_MARKED_SHIPPED",
                seller.username,
                at,
                {
                    "trackingNumber": event.ref,
                    "carrier": plan.carrier[0],
                    "shippedDate": iso_ms(at),
                    "orderId": plan.order_id,
                    "itemId": plan.lines[i].listing.item_id,
                    "transactionId": plan.lines[i].transaction_id,
                    "lineItemId": plan.lines[i].line_item_id,
                    "publicUserId": seller.user_id,
                    "username": seller.username,
                },
            )
            for i in event.lines
        ]
    if event.kind in _CANCEL:
        activity, status = _CANCEL[event.kind]
        request = plan.event_at(EventKind.CANCEL_REQUESTED)
        assert request is not None
        cancellation: Json = {
            "cancellationId": request.ref,
            "cancellationStatus": status,
            "requester": "BUYER",
            "requestedDate": iso_ms(request.at_ms),
        }
        if event.kind is not EventKind.CANCEL_REQUESTED:
            cancellation["closedDate"] = iso_ms(at)
        cancellation["seller"] = _user(seller)
        if event.kind is EventKind.CANCEL_REQUESTED:
            cancellation["sellerAvailableActions"] = {
                "primaryActions": ["APPROVE", "DECLINE"],
                "responseDueDate": iso_ms(request.at_ms + 3 * DAY),
            }
        cancellation["cancellationLineItems"] = [
            {
                "cancellationLineItemId": f"{request.ref}-{n + 1}",
                "orderId": plan.order_id,
                "orderLineItemId": line.line_item_id,
            }
            for n, line in enumerate(plan.lines)
        ]
        data: Json = {"activityType": activity, "activityDate": iso_ms(at)}
        data["orderCancellation"] = cancellation
        return [RestNotification("ORDER_CANCELLATION_ACTIVITY", seller.username, at, data)]
    return []


def _return_rest(change: Change, plan: OrderPlan) -> RestNotification:
    flow, seller, at = change.flow, change.seller, change.at_ms
    assert flow is not None
    state = flow.steps[change.step].state
    line = plan.lines[flow.line]
    status = "CLOSED" if state == "CLOSED" else "REQUESTED" if change.step == 0 else "OPEN"
    orderReturn: Json = {
        "returnId": flow.flow_id,
        "returnStatus": status,
        "requester": "BUYER",
        "requestedDate": iso_ms(flow.created_ms),
    }
    if status == "CLOSED":
        orderReturn["closedDate"] = iso_ms(at)
    orderReturn["seller"] = _user(seller)
    due = flow.steps[change.step].due_ms
    if due is not None:
        action = "APPROVE_RETURN" if change.step == 0 else "PROCESS_RETURN_REFUND"
        orderReturn["sellerAvailableActions"] = {
            "respondByAction": {"respondAction": action, "responseDueDate": iso_ms(due)},
            "secondaryActions": ["SEND_MESSAGE"],
        }
    if state in _RETURN_FULFILLMENT:
        orderReturn["returnFulfillment"] = {"status": _RETURN_FULFILLMENT[state]}
    if status == "CLOSED":
        refunded = flow.refund_ms is not None and flow.refund_ms <= at
        orderReturn["returnRefund"] = {"status": "COMPLETED" if refunded else "PENDING"}
    escalated = any(s.state == "ESCALATED" for s in flow.steps[: change.step + 1])
    if escalated:
        orderReturn["returnCase"] = {"status": "CLOSED" if status == "CLOSED" else "OPEN"}
    orderReturn["returnLineItems"] = [
        {
            "returnLineItemId": f"{flow.flow_id}-1",
            "orderLineItemId": line.line_item_id,
            "orderId": plan.order_id,
        }
    ]
    data = {
        "activityType": _RETURN_ACTIVITY.get(state, "RETURN_REQUESTED"),
        "activityDate": iso_ms(at),
        "orderReturn": orderReturn,
    }
    return RestNotification("ORDER_RETURN_ACTIVITY", seller.username, at, data)


def _inquiry_rest(change: Change, plan: OrderPlan) -> RestNotification:
    flow, seller, at = change.flow, change.seller, change.at_ms
    assert flow is not None
    state = flow.steps[change.step].state
    closed = state.startswith("CLOSED")
    inquiry: Json = {
        "type": "ITEM_NOT_RECEIVED",
        "inquiryId": flow.flow_id,
        "inquiryStatus": "CLOSED" if closed else "OPEN",
        "initiator": "BUYER",
        "openedDate": iso_ms(flow.created_ms),
    }
    if closed:
        inquiry["closedDate"] = iso_ms(at)
    inquiry["seller"] = _user(seller)
    due = flow.steps[change.step].due_ms
    if due is not None:
        inquiry["sellerAvailableActions"] = {
            "respondByAction": {"respondAction": "PROVIDE_REFUND", "responseDueDate": iso_ms(due)},
            "secondaryActions": ["SEND_MESSAGE", "PROVIDE_TRACKING_INFO"],
        }
    if state == "CLOSED_WITH_ESCALATION":
        inquiry["inquiryCase"] = {"status": "OPEN"}
    if flow.refund_ms is not None and flow.refund_ms <= at:
        inquiry["inquiryRefund"] = {"status": "COMPLETED"}
    inquiry["inquiryLineItems"] = [
        {
            "inquiryLineItemId": f"{flow.flow_id}-1",
            "orderLineItemId": plan.lines[flow.line].line_item_id,
            "orderId": plan.order_id,
        }
    ]
    activity = (
        "INQUIRY_REFERRAL_CREATED"
        if state == "CLOSED_WITH_ESCALATION"
        else "INQUIRY_CLOSED"
        if closed
        else "INQUIRY_CREATED"
    )
    data = {"activityType": activity, "activityDate": iso_ms(at), "orderInquiry": inquiry}
    return RestNotification("ORDER_INQUIRY_ACTIVITY", seller.username, at, data)


def rest_notifications(change: Change) -> list[RestNotification]:
    """The REST notifications ``change`` causes (before any subscription is consulted)."""
    seller, at = change.seller, change.at_ms
    if change.kind is ChangeKind.ORDER and change.order is not None:
        return _order_rest(change, change.order)
    if change.kind is ChangeKind.RETURN and change.order is not None:
        return [_return_rest(change, change.order)]
    if change.kind is ChangeKind.INQUIRY and change.order is not None:
        return [_inquiry_rest(change, change.order)]
    if change.kind is ChangeKind.MESSAGE and change.message is not None:
        m = change.message
        data: Json = {
            "messageId": m.message_id,
            "conversationType": "FROM_EBAY" if m.sender == "eBay" else "FROM_MEMBERS",
            "conversationId": m.external_id or m.message_id,
            "messageBody": m.text,
            "senderUserName": m.sender,
            "recipientUserName": m.recipient,
            "subject": m.subject,
            "readStatus": False,
            "createdDate": iso_ms(m.received_ms),
            "messageMedia": [],
        }
        return [RestNotification("NEW_MESSAGE", seller.username, at, data)]
    if change.kind in (ChangeKind.ACCOUNT_DELETED, ChangeKind.AUTHORIZATION_REVOKED):
        topic = (
            "MARKETPLACE_ACCOUNT_DELETION"
            if change.kind is ChangeKind.ACCOUNT_DELETED
            else "AUTHORIZATION_REVOCATION"
        )
        data = {
            "username": seller.username,
            "userId": seller.user_id,
            "eiasToken": eias_token(seller),
        }
        return [RestNotification(topic, None, at, data)]
    return []


def rest_envelope(
    note: RestNotification, schema_version: str, notification_id: str, publish_ms: int, attempt: int
) -> Json:
    """The POSTed document (fact sheet §2), keys in eBay's order."""
    return {
        "metadata": {"topic": note.topic, "schemaVersion": schema_version, "deprecated": False},
        "notification": {
            "notificationId": notification_id,
            "eventDate": iso_ms(note.event_ms),
            "publishDate": iso_ms(publish_ms),
            "publishAttemptCount": attempt,
            "data": note.data,
        },
    }
