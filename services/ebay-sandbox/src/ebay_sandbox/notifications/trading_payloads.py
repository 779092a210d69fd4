"""What each change tells a Trading Platform Notifications subscriber: the event name and the
SOAP envelope, field for field after the contracts in notifications/ (fact sheet §7.2, §7.3).
The REST notifications are in :mod:`ebay_sandbox.notifications.payloads`."""

from collections.abc import Callable

from ebay_sandbox.clock import iso_ms
from ebay_sandbox.notifications.changes import Change, ChangeKind
from ebay_sandbox.notifications.payloads import TradingNotification, eias_token
from ebay_sandbox.notifications.signatures import trading_signature
from ebay_sandbox.trading.xml import NAMESPACE, VERSION, el, node, time_el
from ebay_sandbox.world.model import EventKind, Listing, OrderPlan, Seller

RESOLUTION_NS = "http://www.ebay.com/marketplace/resolution/v1/services"


def _response(call: str, event: str, seller: Seller, payload: str) -> Callable[[int], str]:
    def build(timestamp_ms: int) -> str:
        return (
            f'<{call}Response xmlns="{NAMESPACE}">{time_el("Timestamp", timestamp_ms)}'
            f"{el('Ack', 'Success')}{el('CorrelationID', str(timestamp_ms))}"
            f"{el('Version', VERSION)}{el('Build', 'E1355_CORE_API_19187371_R1')}"
            f"{el('NotificationEventName', event)}{el('RecipientUserID', seller.username)}"
            f"{el('EIASToken', eias_token(seller))}{payload}</{call}Response>"
        )

    return build


def _transactions(plan: OrderPlan, lines: tuple[int, ...], at_ms: int) -> str:
    first = plan.lines[lines[0]].listing
    transactions = [
        node(
            "Transaction",
            (
                node("Buyer", (el("UserID", plan.buyer_username),)),
                el("QuantityPurchased", plan.lines[i].quantity),
                el("TransactionID", plan.lines[i].transaction_id),
                el("OrderLineItemID", plan.lines[i].line_item_id),
                node("ContainingOrder", (el("OrderID", plan.order_id),)),
                time_el("CreatedDate", plan.created_ms),
            ),
        )
        for i in lines
    ]
    item = node("Item", (el("ItemID", first.item_id), el("SKU", first.sku)))
    return item + node("TransactionArray", transactions)


def _item(listing: Listing, status: str) -> str:
    return node(
        "Item",
        (
            el("ItemID", listing.item_id),
            node(
                "ListingDetails",
                (time_el("StartTime", listing.start_ms), time_el("EndTime", listing.end_ms)),
            ),
            el(
                "ListingType",
                "FixedPriceItem" if listing.sold_format == "FIXED_PRICE" else "Chinese",
            ),
            el("Quantity", listing.quantity),
            node(
                "SellingStatus",
                (
                    el("QuantitySold", listing.activity_count(listing.end_ms)),
                    el("ListingStatus", status),
                ),
            ),
            el("SKU", listing.sku),
            el("Title", listing.title),
        ),
    )


def _resolution(event: str, seller: Seller, fields: str) -> Callable[[int], str]:
    def build(_timestamp_ms: int) -> str:
        return (
            f'<NotificationEvent xmlns="{RESOLUTION_NS}">{el("NotificationEventName", event)}'
            f"{el('RecipientUserID', seller.username)}{fields}</NotificationEvent>"
        )

    return build


_RETURN_EVENTS = {
    "RETURN_REQUESTED": "ReturnCreated",
    "ITEM_SHIPPED": "ReturnShipped",
    "ITEM_DELIVERED": "ReturnDelivered",
    "ESCALATED": "ReturnEscalated",
    "CLOSED": "ReturnClosed",
}
_INQUIRY_EVENTS = {
    "OPEN": "EBPMyResponseDue",
    "CLOSED": "EBPClosedCase",
    "CLOSED_WITH_ESCALATION": "EBPEscalatedCase",
}


def trading_notifications(change: Change) -> list[TradingNotification]:
    """The Platform Notifications ``change`` causes (before any preference is consulted)."""
    seller, at, user = change.seller, change.at_ms, change.seller.username
    out: list[TradingNotification] = []

    def add(event: str, call: str, payload: str) -> None:
        out.append(TradingNotification(event, user, at, _response(call, event, seller, payload)))

    plan, event = change.order, change.event
    if change.kind is ChangeKind.ORDER and plan is not None and event is not None:
        if event.kind is EventKind.CREATED:
            for i, line in enumerate(plan.lines):
                name = (
                    "FixedPriceTransaction"
                    if line.listing.sold_format == "FIXED_PRICE"
                    else "EndOfAuction"
                )
                add(name, "GetItemTransactions", _transactions(plan, (i,), at))
        elif event.kind is EventKind.PAID:
            # One per order, for its first line item (fact sheet §7.2).
            add("AuctionCheckoutComplete", "GetItemTransactions", _transactions(plan, (0,), at))
        elif event.kind is EventKind.SHIPPED:
            for i in event.lines:
                add("ItemMarkedShipped", "GetItemTransactions", _transactions(plan, (i,), at))
        elif event.kind is EventKind.CANCEL_REQUESTED:
            lines = tuple(range(len(plan.lines)))
            add("BuyerCancelRequested", "GetItemTransactions", _transactions(plan, lines, at))
    elif change.kind in (ChangeKind.RETURN, ChangeKind.INQUIRY) and plan is not None:
        flow = change.flow
        assert flow is not None
        state = flow.steps[change.step].state
        names = _RETURN_EVENTS if change.kind is ChangeKind.RETURN else _INQUIRY_EVENTS
        if state in names:
            if change.kind is ChangeKind.RETURN:
                ident = el("ReturnId", flow.flow_id)
            else:
                ident = node("CaseId", (el("id", flow.flow_id), el("type", "EBP_INR")))
            fields = (
                f"{ident}{time_el('CreationDate', at)}{el('OtherPartyId', plan.buyer_username)}"
                f"{el('OtherPartyRole', 'BUYER')}"
            )
            out.append(
                TradingNotification(
                    names[state], user, at, _resolution(names[state], seller, fields), signed=False
                )
            )
    elif change.kind is ChangeKind.MESSAGE and change.message is not None:
        m = change.message
        base = "MyMessageseBayMessage" if m.sender == "eBay" else "MyMessagesM2MMessage"
        for name, with_text in ((base, True), (f"{base}Header", False)):
            parts = [
                el("Sender", m.sender),
                el("RecipientUserID", m.recipient),
                el("Subject", m.subject),
                el("MessageID", m.message_id),
            ]
            if m.external_id:
                parts.append(el("ExternalMessageID", m.external_id))
            if with_text:
                parts.append(el("Text", m.text))
            parts += [el("Read", False), time_el("ReceiveDate", m.received_ms)]
            if m.item is not None:
                parts.append(el("ItemID", m.item.item_id))
            add(name, "GetMyMessages", node("Messages", (node("Message", parts),)))
    elif change.kind is ChangeKind.LISTING_STARTED and change.listing is not None:
        add("ItemListed", "GetItem", _item(change.listing, "Active"))
    elif change.kind is ChangeKind.LISTING_ENDED and change.listing is not None:
        listing = change.listing
        sold = listing.activity_count(listing.end_ms) > 0
        add("ItemSold" if sold else "ItemUnsold", "GetItem", _item(listing, "Completed"))
        add("ItemClosed", "GetItem", _item(listing, "Completed"))
    elif change.kind is ChangeKind.AUTHORIZATION_REVOKED:
        add("TokenRevocation", "GetTokenStatus", node("TokenStatus", (el("Status", "Revoked"),)))
    return out


def soap_envelope(
    note: TradingNotification, timestamp_ms: int, keyset: tuple[str, str, str]
) -> bytes:
    """The POSTed SOAP document: signed header (``NotificationSignature`` over the Body's
    Timestamp) or the empty header of resolution events."""
    body = note.body(timestamp_ms)
    if note.signed:
        signature = trading_signature(iso_ms(timestamp_ms), *keyset)
        header = (
            "<soapenv:Header>"
            '<ebl:RequesterCredentials soapenv:mustUnderstand="0" '
            f'xmlns:ns="{NAMESPACE}" xmlns:ebl="{NAMESPACE}">'
            f'<ebl:NotificationSignature xmlns:ebl="{NAMESPACE}">{signature}'
            "</ebl:NotificationSignature></ebl:RequesterCredentials></soapenv:Header>"
        )
    else:
        header = "<soapenv:Header/>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()
