"""Trading ``SetNotificationPreferences`` / ``GetNotificationPreferences`` (fact sheet
notifications §7.1): where Platform Notifications go and which events each user wants."""

from ebay_sandbox.calls import Call
from ebay_sandbox.notifications.store import DeliveryUrl
from ebay_sandbox.trading.errors import invalid_input
from ebay_sandbox.trading.request import NS, TradingRequest
from ebay_sandbox.trading.xml import el, node

# The seller-side events of fact sheet §7.2 (NotificationEventTypeCodeType); the sandbox sends
# the ones in ebay_sandbox.notifications.changes.TRADING_EVENTS, and accepts the rest.
KNOWN_EVENTS = frozenset(
    {
        "FixedPriceTransaction",
        "AuctionCheckoutComplete",
        "EndOfAuction",
        "CheckoutBuyerRequestsTotal",
        "ItemSold",
        "ItemListed",
        "ItemRevised",
        "ItemExtended",
        "ItemSuspended",
        "ItemOutOfStock",
        "ItemClosed",
        "ItemUnsold",
        "ItemMarkedShipped",
        "ItemMarkedPaid",
        "ReadyToShip",
        "ReadyForPayout",
        "MyMessagesM2MMessage",
        "MyMessagesM2MMessageHeader",
        "MyMessageseBayMessage",
        "MyMessageseBayMessageHeader",
        "MyMessagesHighPriorityMessage",
        "MyMessagesHighPriorityMessageHeader",
        "M2MMessageStatusChange",
        "AskSellerQuestion",
        "BestOffer",
        "Feedback",
        "FeedbackReceived",
        "FeedbackLeft",
        "FeedbackStarChanged",
        "ReturnCreated",
        "ReturnWaitingForSellerInfo",
        "ReturnSellerInfoOverdue",
        "ReturnShipped",
        "ReturnDelivered",
        "ReturnRefundOverdue",
        "ReturnClosed",
        "ReturnEscalated",
        "BuyerCancelRequested",
        "RefundSuccess",
        "RefundFailure",
        "EBPMyResponseDue",
        "EBPOtherPartyResponseDue",
        "EBPEscalatedCase",
        "EBPAppealedCase",
        "EBPMyPaymentDue",
        "EBPPaymentDone",
        "EBPClosedAppeal",
        "EBPClosedCase",
        "EBPOnHoldCase",
        "OrderInquiryReminderForEscalation",
        "TokenRevocation",
        "UserIDChanged",
    }
)
_SWITCH = frozenset({"Enable", "Disable"})
LEVELS = frozenset({"Application", "User", "UserData", "Event"})


def _switch(request: TradingRequest, path: str) -> str | None:
    value = request.text(path)
    if value is not None and value not in _SWITCH:
        raise invalid_input(path.rsplit("/", 1)[-1])
    return value


def set_preferences(call: Call, request: TradingRequest) -> str:
    """Store what the request sets; a later call overwrites only what it names."""
    prefs = call.sandbox.notifications.trading
    username = call.seller.username
    app = "ApplicationDeliveryPreferences"
    if request.find(app) is not None:
        url = request.text(f"{app}/ApplicationURL")
        if url is not None and not url.startswith(("http://", "https://")):
            raise invalid_input("ApplicationURL")
        enable = _switch(request, f"{app}/ApplicationEnable")
        alert_enable = _switch(request, f"{app}/AlertEnable")
        payload = request.text(f"{app}/NotificationPayloadType")
        if payload is not None and payload != "eBLSchemaSOAP":
            raise invalid_input("NotificationPayloadType")
        prefs.application_url = url or prefs.application_url
        prefs.application_enable = enable or prefs.application_enable
        prefs.alert_enable = alert_enable or prefs.alert_enable
        prefs.alert_email = request.text(f"{app}/AlertEmail") or prefs.alert_email
        prefs.payload_version = request.text(f"{app}/PayloadVersion") or prefs.payload_version
        prefs.device_type = request.text(f"{app}/DeviceType") or prefs.device_type
        for details in request.root.findall(f"e:{app}/e:DeliveryURLDetails", NS):
            name = details.findtext("e:DeliveryURLName", None, NS)
            target = details.findtext("e:DeliveryURL", None, NS)
            status = details.findtext("e:Status", "Enable", NS)
            if not name or not target or status not in _SWITCH:
                raise invalid_input("DeliveryURLDetails")
            prefs.delivery_urls[name.strip()] = DeliveryUrl(name.strip(), target.strip(), status)
    events = prefs.user_events.setdefault(username, {})
    array = "e:UserDeliveryPreferenceArray/e:NotificationEnable"
    for entry in request.root.findall(array, NS):
        event = (entry.findtext("e:EventType", "", NS) or "").strip()
        state = (entry.findtext("e:EventEnable", "", NS) or "").strip()
        if event not in KNOWN_EVENTS:
            raise invalid_input("EventType")
        if state not in _SWITCH:
            raise invalid_input("EventEnable")
        events[event] = state
    names = request.text("DeliveryURLName")
    if names is not None:
        bound = [n.strip() for n in names.split(",") if n.strip()]
        if len(bound) > 25 or any(n not in prefs.delivery_urls for n in bound):
            raise invalid_input("DeliveryURLName")
        prefs.user_urls[username] = bound
    user_data = request.find("UserData")
    if user_data is not None:
        prefs.user_data[username] = {
            child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in user_data
        }
    call.sandbox.push.kick()
    return ""


def get_preferences(call: Call, request: TradingRequest) -> str:
    """Only the preferences that were explicitly set, at the requested level."""
    level = request.text("PreferenceLevel") or "Application"
    if level not in LEVELS:
        raise invalid_input("PreferenceLevel")
    prefs = call.sandbox.notifications.trading
    username = call.seller.username
    if level == "Application":
        if not prefs.application_set:
            return ""
        parts = []
        if prefs.application_url is not None:
            parts.append(el("ApplicationURL", prefs.application_url))
        if prefs.application_enable is not None:
            parts.append(el("ApplicationEnable", prefs.application_enable))
        if prefs.alert_email is not None:
            parts.append(el("AlertEmail", prefs.alert_email))
        if prefs.alert_enable is not None:
            parts.append(el("AlertEnable", prefs.alert_enable))
        parts.append(el("NotificationPayloadType", "eBLSchemaSOAP"))
        if prefs.device_type is not None:
            parts.append(el("DeviceType", prefs.device_type))
        if prefs.payload_version is not None:
            parts.append(el("PayloadVersion", prefs.payload_version))
        for url in prefs.delivery_urls.values():
            details = (
                el("DeliveryURLName", url.name),
                el("DeliveryURL", url.url),
                el("Status", url.status),
            )
            parts.append(node("DeliveryURLDetails", details))
        return node("ApplicationDeliveryPreferences", parts)
    if level == "User":
        events = prefs.user_events.get(username, {})
        out = []
        if events:
            entries = (
                node("NotificationEnable", (el("EventType", e), el("EventEnable", s)))
                for e, s in events.items()
            )
            out.append(node("UserDeliveryPreferenceArray", entries))
        if prefs.user_urls.get(username):
            out.append(el("DeliveryURLName", ",".join(prefs.user_urls[username])))
        return "".join(out)
    if level == "UserData":
        data = prefs.user_data.get(username)
        return node("UserData", (el(k, v) for k, v in data.items())) if data else ""
    return ""
