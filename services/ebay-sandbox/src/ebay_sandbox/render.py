"""Order state at a given instant and its eBay ``Order`` JSON, with a per-order cache."""

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from ebay_sandbox.clock import iso_ms
from ebay_sandbox.model import Contact, Event, EventKind, OrderPlan
from ebay_sandbox.orders import DAY

JsonDict = dict[str, Any]


def money(cents: int, currency: str) -> JsonDict:
    """eBay ``Amount``: value is a decimal string such as ``"12.50"``."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return {"value": f"{sign}{cents // 100}.{cents % 100:02d}", "currency": currency}


def marketplace_fee_cents(total_cents: int) -> int:
    """Final value fee: 13.25 % plus a fixed 0.30 per order."""
    return round(total_cents * 0.1325) + 30


@dataclass
class _State:
    paid_ms: int | None = None
    cancel_request: Event | None = None
    cancel_outcome: Event | None = None
    shipments: list[Event] = field(default_factory=list)
    refunds: list[Event] = field(default_factory=list)


def _fold(events: tuple[Event, ...]) -> _State:
    state = _State()
    for event in events:
        if event.kind is EventKind.PAID:
            state.paid_ms = event.at_ms
        elif event.kind is EventKind.CANCEL_REQUESTED:
            state.cancel_request = event
        elif event.kind is EventKind.CANCEL_REJECTED:
            state.cancel_outcome = event
        elif event.kind is EventKind.CANCELLED:
            state.cancel_outcome = event
            state.refunds.append(event)
        elif event.kind is EventKind.SHIPPED:
            state.shipments.append(event)
        elif event.kind is EventKind.REFUNDED:
            state.refunds.append(event)
    return state


def _fulfillment_status(plan: OrderPlan, state: _State) -> str:
    shipped = sum(len(s.lines) for s in state.shipments)
    if shipped == 0:
        return "NOT_STARTED"
    return "FULFILLED" if shipped >= len(plan.lines) else "IN_PROGRESS"


def _payment_status(plan: OrderPlan, state: _State) -> str:
    refunded = sum(r.amount_cents for r in state.refunds)
    if refunded >= plan.total_cents:
        return "FULLY_REFUNDED"
    if refunded > 0:
        return "PARTIALLY_REFUNDED"
    return "PAID" if state.paid_ms is not None else "PENDING"


def _address(c: Contact) -> JsonDict:
    return {
        "addressLine1": c.address_line1,
        "city": c.city,
        "stateOrProvince": c.region,
        "postalCode": c.postal_code,
        "countryCode": c.country,
    }


def _contact(c: Contact) -> JsonDict:
    return {
        "fullName": c.full_name,
        "contactAddress": _address(c),
        "primaryPhone": {"phoneNumber": c.phone},
        "email": c.email,
    }


def _static_parts(plan: OrderPlan) -> JsonDict:
    """Parts of the JSON that never change; shared (never mutated) by every rendered state."""
    cur, created = plan.currency, plan.created_ms
    delivery = {
        "minEstimatedDeliveryDate": iso_ms(created + 3 * DAY),
        "maxEstimatedDeliveryDate": iso_ms(created + 8 * DAY),
    }
    b = plan.buyer
    return {
        "buyer": {
            "username": plan.buyer_username,
            "taxAddress": {
                "city": b.city,
                "stateOrProvince": b.region,
                "postalCode": b.postal_code,
                "countryCode": b.country,
            },
            "buyerRegistrationAddress": _contact(b),
        },
        "pricingSummary": {
            "priceSubtotal": money(plan.subtotal_cents, cur),
            "deliveryCost": money(plan.delivery_cents, cur),
            "total": money(plan.total_cents, cur),
        },
        "fulfillmentStartInstructions": [
            {
                "fulfillmentInstructionsType": "SHIP_TO",
                **delivery,
                "shippingStep": {
                    "shipTo": _contact(b),
                    "shippingCarrierCode": plan.carrier[0],
                    "shippingServiceCode": plan.carrier[1],
                },
            }
        ],
        "lineInstructions": {
            "guaranteedDelivery": False,
            **delivery,
            "shipByDate": iso_ms(created + 2 * DAY),
        },
        "totalFeeBasisAmount": money(plan.total_cents, cur),
        "totalMarketplaceFee": money(marketplace_fee_cents(plan.total_cents), cur),
    }


def _line_items(plan: OrderPlan, state: _State, static: JsonDict) -> list[JsonDict]:
    cur, market = plan.currency, plan.seller.marketplace_id
    shipped = {i for s in state.shipments for i in s.lines}
    items = []
    for i, line in enumerate(plan.lines):
        refunds = []
        for r in state.refunds:
            if r.kind is EventKind.REFUNDED and i in r.lines:
                amount = line.total_cents if len(r.lines) > 1 else r.amount_cents
                refunds.append(
                    {"amount": money(amount, cur), "refundDate": iso_ms(r.at_ms), "refundId": r.ref}
                )
        items.append(
            {
                "lineItemId": line.line_item_id,
                "legacyItemId": line.listing.legacy_item_id,
                "sku": line.listing.sku,
                "title": line.listing.title,
                "lineItemCost": money(line.cost_cents, cur),
                "quantity": line.quantity,
                "soldFormat": line.listing.sold_format,
                "listingMarketplaceId": market,
                "purchaseMarketplaceId": market,
                "lineItemFulfillmentStatus": "FULFILLED" if i in shipped else "NOT_STARTED",
                "total": money(line.total_cents, cur),
                "deliveryCost": {"shippingCost": money(line.shipping_cents, cur)},
                "appliedPromotions": [],
                "taxes": [],
                "properties": {"buyerProtection": True},
                "lineItemFulfillmentInstructions": static["lineInstructions"],
                "refunds": refunds,
            }
        )
    return items


def _cancel_status(state: _State, full: bool) -> JsonDict:
    request, outcome = state.cancel_request, state.cancel_outcome
    status: JsonDict = {"cancelState": "NONE_REQUESTED", "cancelRequests": []}
    if request is None:
        return status
    entry: JsonDict = {
        "cancelInitiator": "BUYER",
        "cancelReason": "BUYER_ASKED_CANCEL",
        "cancelRequestedDate": iso_ms(request.at_ms),
        "cancelRequestId": request.ref,
        "cancelRequestState": "REQUESTED",
    }
    if outcome is None:
        status["cancelState"] = "IN_PROGRESS"
    elif outcome.kind is EventKind.CANCELLED:
        status["cancelState"] = "CANCELED"
        status["cancelledDate"] = iso_ms(outcome.at_ms)
        entry["cancelRequestState"] = "COMPLETED"
        entry["cancelCompletedDate"] = iso_ms(outcome.at_ms)
    else:
        entry["cancelRequestState"] = "REJECTED"
    # getOrders always returns an empty cancelRequests array; only getOrder fills it.
    if full:
        status["cancelRequests"] = [entry]
    return status


def _payment_summary(plan: OrderPlan, state: _State) -> JsonDict:
    cur = plan.currency
    payment: JsonDict = {"paymentMethod": "EBAY", "amount": money(plan.total_cents, cur)}
    if state.paid_ms is not None:
        payment["paymentDate"] = iso_ms(state.paid_ms)
    payment["paymentStatus"] = "PAID" if state.paid_ms is not None else "PENDING"
    refunded = sum(r.amount_cents for r in state.refunds)
    return {
        "totalDueSeller": money(plan.total_cents - refunded, cur),
        "refunds": [
            {
                "refundId": r.ref,
                "refundDate": iso_ms(r.at_ms),
                "amount": money(r.amount_cents, cur),
                "refundStatus": "REFUNDED",
                "refundReferenceId": f"R{r.ref}",
            }
            for r in state.refunds
        ],
        "payments": [payment],
    }


class OrderView:
    """A generated order plus cheap access to its state at any instant."""

    __slots__ = ("_cache", "_static", "_statuses", "event_times", "plan")

    def __init__(self, plan: OrderPlan) -> None:
        self.plan = plan
        self.event_times = tuple(e.at_ms for e in plan.events)
        self._statuses = tuple(
            _fulfillment_status(plan, _fold(plan.events[: n + 1])) for n in range(len(plan.events))
        )
        self._static: JsonDict | None = None
        self._cache: tuple[int, str, bytes] | None = None

    @property
    def order_id(self) -> str:
        """The eBay order id."""
        return self.plan.order_id

    def applied(self, now_ms: int) -> int:
        """How many events have happened at ``now_ms`` (0 means the order does not exist yet)."""
        return bisect_right(self.event_times, now_ms)

    def last_modified_ms(self, applied: int) -> int:
        """``lastModifiedDate`` once ``applied`` events have happened."""
        return self.event_times[applied - 1]

    def fulfillment_status(self, applied: int) -> str:
        """``orderFulfillmentStatus`` once ``applied`` events have happened."""
        return self._statuses[applied - 1]

    def to_dict(self, applied: int, base_url: str, *, full: bool) -> JsonDict:
        """The ``Order`` object; ``full`` fills cancelRequests like getOrder does."""
        plan = self.plan
        if self._static is None:
            self._static = _static_parts(plan)
        static = self._static
        state = _fold(plan.events[:applied])
        href = f"{base_url}/sell/fulfillment/v1/order/{plan.order_id}/shipping_fulfillment/"
        return {
            "orderId": plan.order_id,
            "creationDate": iso_ms(plan.created_ms),
            "lastModifiedDate": iso_ms(self.last_modified_ms(applied)),
            "orderFulfillmentStatus": _fulfillment_status(plan, state),
            "orderPaymentStatus": _payment_status(plan, state),
            "sellerId": plan.seller.username,
            "buyer": static["buyer"],
            "pricingSummary": static["pricingSummary"],
            "cancelStatus": _cancel_status(state, full),
            "paymentSummary": _payment_summary(plan, state),
            "fulfillmentStartInstructions": static["fulfillmentStartInstructions"],
            "fulfillmentHrefs": [href + s.ref for s in state.shipments],
            "lineItems": _line_items(plan, state, static),
            "salesRecordReference": plan.sales_record_reference,
            "totalFeeBasisAmount": static["totalFeeBasisAmount"],
            "totalMarketplaceFee": static["totalMarketplaceFee"],
        }

    def to_json(self, applied: int, base_url: str) -> bytes:
        """Serialized getOrders form; the latest state is cached since time only moves on."""
        cached = self._cache
        if cached is not None and cached[0] == applied and cached[1] == base_url:
            return cached[2]
        data = self.to_dict(applied, base_url, full=False)
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        self._cache = (applied, base_url, encoded)
        return encoded
