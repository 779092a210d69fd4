"""An order's eBay ``Order`` JSON at a given state."""

from typing import Any

from ebay_sandbox.clock import DAY, iso_ms
from ebay_sandbox.paging import money
from ebay_sandbox.world.ledger import marketplace_fee_cents
from ebay_sandbox.world.model import Contact, EventKind, LinePlan, OrderPlan
from ebay_sandbox.world.order_state import (
    OrderRecord,
    OrderState,
    fulfillment_status,
    payment_status,
)

JsonDict = dict[str, Any]

# eBay collects and remits US sales tax on the buyer's behalf (marketplace facilitator laws); the
# state's base rate in basis points, by the buyer's tax address. Oregon has none, so some US orders
# are not subject to 'Collect and Remit' tax at all. Other markets: none in the simulator.
SALES_TAX_BPS = {
    "TX": 625,
    "OR": 0,
    "OH": 575,
    "CO": 290,
    "NC": 475,
    "CA": 725,
    "WI": 500,
    "FL": 600,
}


def collect_and_remit_cents(plan: OrderPlan, line: LinePlan) -> int:
    """US state sales tax eBay collects on one line (item and shipping), rounded half up."""
    if plan.buyer.country != "US":
        return 0
    return (line.total_cents * SALES_TAX_BPS.get(plan.buyer.region, 0) + 5_000) // 10_000


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


def _pricing_summary(plan: OrderPlan, *, tax_breakdown: bool) -> JsonDict:
    """getOrders adds the 'Collect and Remit' tax into ``total`` only with
    ``fieldGroups=TAX_BREAKDOWN`` (sell_fulfillment ``PricingSummary.total``)."""
    cur = plan.currency
    tax = sum(collect_and_remit_cents(plan, line) for line in plan.lines)
    summary = {
        "priceSubtotal": money(plan.subtotal_cents, cur),
        "deliveryCost": money(plan.delivery_cents, cur),
        "total": money(plan.total_cents + (tax if tax_breakdown else 0), cur),
    }
    if tax:
        summary["tax"] = money(tax, cur)
    return summary


def _static_parts(plan: OrderPlan) -> JsonDict:
    """Parts of the JSON that never change."""
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


def _line_items(plan: OrderPlan, state: OrderState, static: JsonDict) -> list[JsonDict]:
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
                "legacyItemId": line.listing.item_id,
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
                **_collect_and_remit(plan, line),
            }
        )
    return items


def _collect_and_remit(plan: OrderPlan, line: LinePlan) -> JsonDict:
    """``ebayCollectAndRemitTaxes`` of a line subject to it (returned whatever the field groups)."""
    cents = collect_and_remit_cents(plan, line)
    if not cents:
        return {}
    tax = {"taxType": "STATE_SALES_TAX", "amount": money(cents, plan.currency)}
    return {"ebayCollectAndRemitTaxes": [{**tax, "collectionMethod": "NET"}]}


def _cancel_status(state: OrderState, full: bool) -> JsonDict:
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


def _payment_summary(plan: OrderPlan, state: OrderState) -> JsonDict:
    cur = plan.currency
    payment: JsonDict = {"paymentMethod": "EBAY", "amount": money(plan.total_cents, cur)}
    if state.paid_ms is not None:
        payment["paymentDate"] = iso_ms(state.paid_ms)
    payment["paymentStatus"] = "PAID" if state.paid_ms is not None else "PENDING"
    refunded = state.refunded_cents
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


def order_json(
    record: OrderRecord, applied: int, base_url: str, *, full: bool, tax_breakdown: bool
) -> JsonDict:
    """The ``Order`` object once ``applied`` events happened; ``full`` fills cancelRequests
    like getOrder does; ``tax_breakdown`` is ``fieldGroups=TAX_BREAKDOWN``."""
    plan = record.plan
    static = _static_parts(plan)
    state = record.state(applied)
    href = f"{base_url}/sell/fulfillment/v1/order/{plan.order_id}/shipping_fulfillment/"
    return {
        "orderId": plan.order_id,
        "creationDate": iso_ms(plan.created_ms),
        "lastModifiedDate": iso_ms(record.last_modified_ms(applied)),
        "orderFulfillmentStatus": fulfillment_status(plan, state),
        "orderPaymentStatus": payment_status(plan, state),
        "sellerId": plan.seller.username,
        "buyer": static["buyer"],
        "pricingSummary": _pricing_summary(plan, tax_breakdown=tax_breakdown),
        "cancelStatus": _cancel_status(state, full),
        "paymentSummary": _payment_summary(plan, state),
        "fulfillmentStartInstructions": static["fulfillmentStartInstructions"],
        "fulfillmentHrefs": [href + s.ref for s in state.shipments],
        "lineItems": _line_items(plan, state, static),
        "salesRecordReference": plan.sales_record_reference,
        "totalFeeBasisAmount": static["totalFeeBasisAmount"],
        "totalMarketplaceFee": static["totalMarketplaceFee"],
    }
