"""eBay push notifications: which topic feeds which family, and what a notification names.

The one table of topics → families (REST Notification API topics and Trading Platform
Notification events), the scopes each REST topic needs, and the pure extraction of the seller
and the changed ids from a verified payload. No I/O here: the ingress (admin API) and the
scheduler's consumer both decide from these. Facts: ``ebay-contracts/notifications/README.md``
§1 (REST topics), §7.2 (Trading events); docs/adr/0018-push-notifications.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from common.ebay.scope_names import API_SCOPE as _BASE
from common.families import Family

# createSubscription for a USER topic needs this scope besides the topic's own (§3).
SUBSCRIPTION_SCOPE = f"{_BASE}/commerce.notification.subscription"


class TopicScope(StrEnum):
    """Whether eBay subscribes a topic per seller (user token) or once per application."""

    USER = "USER"
    APPLICATION = "APPLICATION"


@dataclass(frozen=True)
class Topic:
    """One REST topic or Trading event: the family it feeds (None: routed elsewhere, e.g.
    account deletion), the OAuth scopes of which one suffices, and how it is subscribed."""

    name: str
    family: Family | None
    scopes: tuple[str, ...] = ()
    scope: TopicScope = TopicScope.USER
    schema_version: str = "1.0"


# REST Notification API topics (contracts §1). The three *_ACTIVITY topics' release is
# UNCONFIRMED; they are subscribed like the others and a 195027 leaves them off.
REST_TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic(
            "ORDER_CONFIRMATION",
            Family.ORDERS,
            (f"{_BASE}/sell.fulfillment.readonly", f"{_BASE}/sell.fulfillment"),
        ),
        Topic("ITEM_MARKED_SHIPPED", Family.ORDERS, (f"{_BASE}/commerce.shipping",)),
        Topic("NEW_MESSAGE", Family.MESSAGES, (f"{_BASE}/commerce.message",)),
        Topic(
            "ORDER_RETURN_ACTIVITY",
            Family.RETURNS,
            (f"{_BASE}/sell.return.read", f"{_BASE}/sell.return"),
        ),
        Topic(
            "ORDER_CANCELLATION_ACTIVITY",
            Family.ORDERS,
            (f"{_BASE}/sell.cancellation.read", f"{_BASE}/sell.cancellation"),
        ),
        Topic(
            "ORDER_INQUIRY_ACTIVITY",
            Family.INQUIRIES,
            (f"{_BASE}/sell.inquiry.read", f"{_BASE}/sell.inquiry"),
        ),
        # Handled by the account-deletion code (admin_api.routes.webhooks), not a window.
        Topic("MARKETPLACE_ACCOUNT_DELETION", None, (_BASE,), TopicScope.APPLICATION),
        Topic("AUTHORIZATION_REVOCATION", None, (_BASE,), TopicScope.APPLICATION),
    )
}
ACCOUNT_TOPICS = frozenset({"MARKETPLACE_ACCOUNT_DELETION", "AUTHORIZATION_REVOCATION"})

# Topics whose ids no targeted call is known to take, so their window re-reads a short span
# around the event instead (no cursor moves: it is still a notification window). NEW_MESSAGE
# names a Message API ``messageId``/``conversationId``; that either equals the Trading
# ``MessageID`` GetMyMessages ``MessageIDs`` takes is UNCONFIRMED in the contracts (§1), so
# a messages window of the last minutes before the event up to now picks the message up.
SPAN_TOPICS: dict[str, timedelta] = {"NEW_MESSAGE": timedelta(minutes=10)}

# Trading Platform Notification events (contracts §7.2): SetNotificationPreferences enables
# these for each seller; the family says what a notification of each re-reads. Not the
# resolution events (Return*, EBP*): eBay sends them unsigned (§7.3), so the ingress refuses
# them, and enabling them would only pile up refusals that count toward marking the
# application down (§7.5). ORDER_RETURN_ACTIVITY and ORDER_INQUIRY_ACTIVITY (REST, signed)
# replace them.
TRADING_EVENTS: dict[str, Family] = {
    "FixedPriceTransaction": Family.ORDERS,
    "AuctionCheckoutComplete": Family.ORDERS,
    "EndOfAuction": Family.ORDERS,
    "ItemMarkedShipped": Family.ORDERS,
    "ItemSold": Family.ACTIVE_INVENTORY,
    "ItemListed": Family.ACTIVE_INVENTORY,
    "ItemRevised": Family.ACTIVE_INVENTORY,
    "ItemClosed": Family.ACTIVE_INVENTORY,
    "ItemUnsold": Family.ACTIVE_INVENTORY,
    "ItemExtended": Family.ACTIVE_INVENTORY,
    "ItemSuspended": Family.ACTIVE_INVENTORY,
    "ItemOutOfStock": Family.ACTIVE_INVENTORY,
    "MyMessagesM2MMessage": Family.MESSAGES,
    "MyMessageseBayMessage": Family.MESSAGES,
    "MyMessagesHighPriorityMessage": Family.MESSAGES,
}

# Families some push topic or event covers; the others (cases, payments, payouts, disputes,
# ...) stay on polling alone (contracts §1 "Not found").
PUSH_FAMILIES: frozenset[Family] = frozenset(
    {t.family for t in REST_TOPICS.values() if t.family is not None} | set(TRADING_EVENTS.values())
)


def missing_push_scopes(granted: str) -> dict[str, tuple[str, ...]]:
    """For each USER topic the consent ``granted`` (space-separated) cannot subscribe: the
    scopes it lacks. The admin UI shows "push unavailable for F: reconnect" from it."""
    have = set(granted.split())
    missing: dict[str, tuple[str, ...]] = {}
    for topic in REST_TOPICS.values():
        if topic.scope is not TopicScope.USER:
            continue
        if SUBSCRIPTION_SCOPE not in have:
            missing[topic.name] = (SUBSCRIPTION_SCOPE, *topic.scopes)
        elif not any(s in have for s in topic.scopes):
            missing[topic.name] = topic.scopes
    return missing


# What a connect asks for besides the sync's own scopes, so every USER topic can be subscribed:
# the subscription scope and the first (narrowest) scope of each topic.
PUSH_SCOPES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [SUBSCRIPTION_SCOPE]
        + [t.scopes[0] for t in REST_TOPICS.values() if t.scope is TopicScope.USER and t.scopes]
    )
)
# The one Trading row per seller: SetNotificationPreferences enables every TRADING_EVENTS event.
TRADING_TOPIC = "PLATFORM_NOTIFICATIONS"


def unavailable_reason(family: Family | None) -> str:
    """What the admin UI shows for a topic the consent cannot subscribe."""
    return f"push unavailable for {family.value if family else 'account notices'}: reconnect"


@dataclass(frozen=True)
class Notice:
    """What a verified notification says: whose, which family, which ids changed."""

    notification_id: str
    topic: str
    ebay_user_id: str | None
    username: str | None
    family: Family | None
    targets: tuple[str, ...]
    event_date: datetime | None


class NotNotification(ValueError):
    """A verified body that does not have the shape of a notification."""


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unique(ids: list[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in ids if i))


def rest_notice(body: Any) -> Notice:
    """A REST notification's seller and changed ids (contracts §1, "Seller routing key")."""
    root = _dict(body)
    topic = _str(_dict(root.get("metadata")).get("topic"))
    notification = _dict(root.get("notification"))
    notification_id = _str(notification.get("notificationId"))
    if topic is None or notification_id is None or not re.fullmatch(r"[A-Za-z0-9_]+", topic):
        raise NotNotification("not a notification (no topic or notificationId)")
    data = _dict(notification.get("data"))
    user_id: str | None = None
    username: str | None = None
    targets: tuple[str, ...] = ()
    if topic == "ORDER_CONFIRMATION":
        user = _dict(data.get("user"))
        user_id, username = _str(user.get("userId")), _str(user.get("username"))
        targets = _unique([_str(_dict(data.get("order")).get("orderId"))])
    elif topic == "ITEM_MARKED_SHIPPED":
        user_id, username = _str(data.get("publicUserId")), _str(data.get("username"))
        targets = _unique([_str(data.get("orderId"))])
    elif topic == "NEW_MESSAGE":
        # Only usernames (possibly an immutable user id for US users): the recipient is ours.
        # The message's id, never the conversation's: a conversation holds many messages. It
        # is kept for the record only; a window re-reads a span (SPAN_TOPICS says why).
        username = _str(data.get("recipientUserName"))
        targets = _unique([_str(data.get("messageId"))])
    elif topic in (
        "ORDER_RETURN_ACTIVITY",
        "ORDER_CANCELLATION_ACTIVITY",
        "ORDER_INQUIRY_ACTIVITY",
    ):
        key, id_field, lines = {
            "ORDER_RETURN_ACTIVITY": ("orderReturn", "returnId", "returnLineItems"),
            "ORDER_CANCELLATION_ACTIVITY": (
                "orderCancellation",
                "cancellationId",
                "cancellationLineItems",
            ),
            "ORDER_INQUIRY_ACTIVITY": ("orderInquiry", "inquiryId", "inquiryLineItems"),
        }[topic]
        activity = _dict(data.get(key))
        user_id = _str(_dict(activity.get("seller")).get("userId"))
        if topic == "ORDER_CANCELLATION_ACTIVITY":
            # A cancellation changes the order: re-read the orders it names.
            items = activity.get(lines)
            targets = _unique(
                [_str(_dict(i).get("orderId")) for i in (items if isinstance(items, list) else [])]
            )
        else:
            targets = _unique([_str(activity.get(id_field))])
    elif topic in ACCOUNT_TOPICS:
        user_id, username = _str(data.get("userId")), _str(data.get("username"))
    known = REST_TOPICS.get(topic)
    return Notice(
        notification_id=notification_id,
        topic=topic,
        ebay_user_id=user_id,
        username=username,
        family=known.family if known is not None else None,
        targets=targets[:100],
        event_date=_date(notification.get("eventDate")),
    )


# --- Trading Platform Notifications (SOAP, contracts §7.3, §7.4) ---------------------------

# Trading bodies are read with bounded patterns over the bytes, never an XML parser: no
# entity expansion or deep nesting to defend against, and nothing read before the signature.
_SIGNATURE = re.compile(rb"<(?:\w+:)?NotificationSignature\b[^>]*>\s*([A-Za-z0-9+/=]{1,64})\s*<")
_TIMESTAMP = re.compile(rb"<(?:\w+:)?Timestamp>\s*([0-9T:.\-+Z]{10,40})\s*</(?:\w+:)?Timestamp>")


def _field(body: bytes, name: str) -> str | None:
    pattern = rb"<(?:\w+:)?" + name.encode() + rb">\s*([^<>]{1,256}?)\s*</"
    found = re.search(pattern, body)
    return found.group(1).decode("utf-8", "replace") if found else None


def _fields(body: bytes, name: str) -> list[str | None]:
    pattern = rb"<(?:\w+:)?" + name.encode() + rb">\s*([^<>]{1,256}?)\s*</"
    return [m.group(1).decode("utf-8", "replace") for m in re.finditer(pattern, body)]


def trading_signature(timestamp: str, dev_id: str, app_id: str, cert_id: str) -> str:
    """``base64(MD5(Timestamp + DevID + AppID + CertID))`` (KB 1201)."""
    digest = hashlib.md5((timestamp + dev_id + app_id + cert_id).encode()).digest()
    return base64.b64encode(digest).decode()


class TradingRefused(ValueError):
    """A Trading notification that is unsigned, forged or outside the time window."""


class StaleTimestamp(TradingRefused):
    """A rightly signed Trading notification whose Timestamp is too far from now."""


def verify_trading(
    body: bytes, dev_id: str, app_id: str, cert_id: str, now: datetime, max_age: timedelta
) -> str:
    """The verified notification's Timestamp; raises TradingRefused otherwise. Reads only the
    signature and the timestamp: the rest of the body is untouched until this passes."""
    signature, timestamp = _SIGNATURE.search(body), _TIMESTAMP.search(body)
    if signature is None or timestamp is None:
        raise TradingRefused("no NotificationSignature or Timestamp")
    stamp = timestamp.group(1).decode()
    expected = trading_signature(stamp, dev_id, app_id, cert_id)
    if not hmac.compare_digest(expected.encode(), signature.group(1)):
        raise TradingRefused("NotificationSignature does not match")
    sent = _date(stamp)
    if sent is None:
        raise TradingRefused("the Timestamp is not a time")
    if abs(now - sent) > max_age:
        raise StaleTimestamp(f"the Timestamp is more than {max_age} away from now")
    return stamp


def trading_notice(body: bytes, timestamp: str) -> Notice:
    """A verified Trading notification's seller and changed ids (contracts §7.2)."""
    event = _field(body, "NotificationEventName")
    if event is None or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", event):
        raise NotNotification("no NotificationEventName")
    family = TRADING_EVENTS.get(event)
    if family is Family.ORDERS:
        targets = _unique(_fields(body, "OrderID"))
    elif family is Family.ACTIVE_INVENTORY:
        targets = _unique(_fields(body, "ItemID"))
    elif family is Family.MESSAGES:
        targets = _unique(_fields(body, "MessageID"))
    else:
        targets = ()
    recipient = _field(body, "RecipientUserID")
    correlation = _field(body, "CorrelationID") or ""
    # Trading sends no notification id: the event, recipient, timestamp and correlation id
    # name one delivery, and a resend repeats them all.
    notification_id = hashlib.sha256(
        f"{event}|{recipient}|{timestamp}|{correlation}|{','.join(targets)}".encode()
    ).hexdigest()
    return Notice(
        notification_id=notification_id,
        topic=event,
        ebay_user_id=None,
        username=recipient,
        family=family,
        targets=targets[:100],
        event_date=_date(timestamp),
    )
