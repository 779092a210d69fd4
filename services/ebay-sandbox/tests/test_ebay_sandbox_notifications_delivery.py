"""Push notifications: delivery, retries and faults.

Deliveries need the sender running, so these tests serve the sandbox over real HTTP (its
lifespan starts the sender) and point it at a receiving endpoint served by the test.
"""

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ebay_sandbox.clock import HOUR, to_ms
from ebay_sandbox.state import Sandbox
from ebay_sandbox.world.model import EventKind
from ebay_sandbox.world.orders import MAX_SPAN_MS
from testkit.sandbox_client import NS, START, basic_auth, make_config, trading_headers
from testkit.sandbox_push import (
    NOTIFY,
    TOKEN,
    USER_SCOPES,
    Push,
    Receiver,
    push_public_key,
    serve_receiver,
    served,
    verify_ebay_signature,
)


def paid_lines(username: str, low_ms: int, high_ms: int) -> set[tuple[str, str]]:
    """Ground truth: (orderId, orderLineItemId) of every line paid in ``(low, high]``."""
    sandbox = Sandbox(make_config())
    seller = sandbox.seller(username)
    assert seller is not None
    world = sandbox.world(seller)
    found = set()
    for index in world.orders.between(low_ms - MAX_SPAN_MS, high_ms):
        plan = world.orders.get(index).plan
        paid = plan.event_at(EventKind.PAID)
        if paid is not None and low_ms < paid.at_ms <= high_ms:
            found |= {(plan.order_id, line.line_item_id) for line in plan.lines}
    return found


async def test_an_order_change_reaches_the_subscribed_endpoint_exactly(
    notification_spec: Any,
) -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        assert (await push.subscribe("ORDER_CONFIRMATION", destination_id)).status_code == 201
        await push.advance(12 * 3600)
        stats = await push.settled()
        expected = paid_lines("sandbox_seller_1", to_ms(START), to_ms(START) + 12 * HOUR)
        assert expected, "the window must contain paid orders"
        documents = receiver.documents()
        got = [
            (
                d["notification"]["data"]["order"]["orderId"],
                d["notification"]["data"]["order"]["orderLineItems"][0]["orderLineItemId"],
            )
            for d in documents
        ]
        assert sorted(got) == sorted(expected)  # each paid line once, nothing else
        assert stats["topics"]["ORDER_CONFIRMATION"]["delivered"] == len(expected)
        assert stats["totals"]["failed"] == 0
        sellers = (await push.http.get("/sandbox/sellers")).json()
        user_id = next(s["userId"] for s in sellers if s["username"] == "sandbox_seller_1")
        for (headers, body), document in zip(receiver.received, documents, strict=True):
            assert headers["content-type"] == "application/json"
            assert verify_ebay_signature(
                headers["x-ebay-signature"],
                body,
                await push_public_key(push, headers["x-ebay-signature"]),
            )
            assert document["metadata"] == {
                "topic": "ORDER_CONFIRMATION",
                "schemaVersion": "1.0",
                "deprecated": False,
            }
            notification = document["notification"]
            assert notification["publishAttemptCount"] == 1
            assert notification["data"]["user"] == {
                "userId": user_id,
                "username": "sandbox_seller_1",
            }
            line = notification["data"]["order"]["orderLineItems"][0]
            assert set(line) == {"orderLineItemId", "listingId", "quantity"}
        # The notified line is what the Fulfillment API serves for that order.
        order_id, line_id = got[0]
        resp = await push.http.get(f"/sell/fulfillment/v1/order/{order_id}", headers=push.user)
        assert resp.status_code == 200
        assert line_id in [li["lineItemId"] for li in resp.json()["lineItems"]]
        assert len({d["notification"]["notificationId"] for d in documents}) == len(documents)


async def test_unacknowledged_notifications_are_resent_on_the_sandbox_clock() -> None:
    receiver = Receiver(statuses=[500])
    async with served() as push, serve_receiver(receiver):
        destination_id = await push.setup_destination(receiver)
        await push.subscribe("ORDER_CONFIRMATION", destination_id)
        await push.advance(12 * 3600)
        stats = await push.settled()
        first = receiver.documents()
        assert stats["totals"]["retried"] == 1
        assert stats["scheduled_retries"] == 1
        failed = first[0]["notification"]
        assert all(d["notification"]["publishAttemptCount"] == 1 for d in first)
        await push.advance(30)  # notify_retry_seconds: the first resend after 30 s
        stats = await push.settled()
        resent = receiver.documents()[len(first) :]
        assert [d["notification"]["notificationId"] for d in resent] == [failed["notificationId"]]
        assert resent[0]["notification"]["publishAttemptCount"] == 2
        assert resent[0]["notification"]["data"] == failed["data"]
        assert stats["scheduled_retries"] == 0
        topic = stats["topics"]["ORDER_CONFIRMATION"]
        assert topic["delivered"] == topic["generated"] == len(first)
        assert topic["attempts"] == len(first) + 1


async def test_a_disabled_subscription_sends_nothing() -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        resp = await push.subscribe("ORDER_CONFIRMATION", destination_id, status="DISABLED")
        assert resp.status_code == 201
        await push.advance(12 * 3600)
        stats = await push.settled()
        assert stats["totals"]["generated"] == 0
        assert receiver.received == []


async def test_drop_and_duplicate_faults() -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        await push.subscribe("ORDER_CONFIRMATION", destination_id)
        resp = await push.http.put("/sandbox/notifications/faults", json={"drop": 1})
        assert resp.json()["drop"] == 1
        await push.advance(12 * 3600)
        stats = await push.settled()
        dropped = stats["totals"]["dropped"]
        assert dropped > 0 and dropped == stats["totals"]["generated"]
        assert receiver.received == []
        await push.http.put("/sandbox/notifications/faults", json={"duplicate": 1})
        await push.advance(12 * 3600)
        stats = await push.settled()
        ids = [d["notification"]["notificationId"] for d in receiver.documents()]
        assert ids and all(ids.count(i) == 2 for i in ids)
        assert stats["totals"]["duplicated"] == len(ids) // 2
        log = (await push.http.get("/sandbox/notifications/log")).json()
        assert sum(e["outcome"] == "dropped" for e in log) == dropped


async def test_account_deletion_goes_to_the_application_subscription() -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        resp = await push.subscribe("MARKETPLACE_ACCOUNT_DELETION", destination_id, app=True)
        assert resp.status_code == 201
        resp = await push.http.post(
            "/sandbox/notifications/account_deletion", json={"username": "sandbox_seller_2"}
        )
        assert resp.status_code == 200
        await push.settled()
        [(headers, body)] = receiver.received
        document = json.loads(body)
        assert document["metadata"]["topic"] == "MARKETPLACE_ACCOUNT_DELETION"
        assert set(document["notification"]["data"]) == {"username", "userId", "eiasToken"}
        assert document["notification"]["data"]["username"] == "sandbox_seller_2"
        key = await push_public_key(push, headers["x-ebay-signature"])
        assert verify_ebay_signature(headers["x-ebay-signature"], body, key)


async def _trading(push: Push, call: str, inner: str) -> ET.Element:
    token = push.user["Authorization"].removeprefix("Bearer ")
    body = f'<{call}Request xmlns="urn:ebay:apis:eBLBaseComponents">{inner}</{call}Request>'
    resp = await push.http.post("/ws/api.dll", content=body, headers=trading_headers(call, token))
    root = ET.fromstring(resp.content)
    assert root.findtext(f"{NS}Ack") == "Success", resp.text
    return root


SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"


async def test_platform_notifications_follow_the_preferences_and_are_signed() -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        prefs = (
            "<ApplicationDeliveryPreferences>"
            f"<ApplicationURL>{receiver.endpoint}</ApplicationURL>"
            "<ApplicationEnable>Enable</ApplicationEnable>"
            "<AlertEmail>mailto://ops@example.com</AlertEmail><AlertEnable>Enable</AlertEnable>"
            "<DeviceType>Platform</DeviceType>"
            "</ApplicationDeliveryPreferences>"
            "<UserDeliveryPreferenceArray>"
            "<NotificationEnable><EventType>AuctionCheckoutComplete</EventType>"
            "<EventEnable>Enable</EventEnable></NotificationEnable>"
            "<NotificationEnable><EventType>ItemMarkedShipped</EventType>"
            "<EventEnable>Disable</EventEnable></NotificationEnable>"
            "</UserDeliveryPreferenceArray>"
        )
        await _trading(push, "SetNotificationPreferences", prefs)
        app = await _trading(
            push, "GetNotificationPreferences", "<PreferenceLevel>Application</PreferenceLevel>"
        )
        assert app.findtext(f"{NS}ApplicationDeliveryPreferences/{NS}ApplicationURL") == (
            receiver.endpoint
        )
        assert app.findtext(f"{NS}ApplicationDeliveryPreferences/{NS}AlertEnable") == "Enable"
        user = await _trading(
            push, "GetNotificationPreferences", "<PreferenceLevel>User</PreferenceLevel>"
        )
        events = {
            e.findtext(f"{NS}EventType"): e.findtext(f"{NS}EventEnable")
            for e in user.iter(f"{NS}NotificationEnable")
        }
        assert events == {"AuctionCheckoutComplete": "Enable", "ItemMarkedShipped": "Disable"}
        await push.advance(12 * 3600)
        await push.settled()
        # One AuctionCheckoutComplete per paid order (its first line), nothing disabled.
        expected = paid_lines("sandbox_seller_1", to_ms(START), to_ms(START) + 12 * HOUR)
        orders = {order for order, _ in expected}
        got = []
        for headers, body in receiver.received:
            assert headers["soapaction"] == (
                '"https://developer.ebay.com/notification/AuctionCheckoutComplete"'
            )
            root = ET.fromstring(body)
            response = root.find(f"{SOAP}Body/{NS}GetItemTransactionsResponse")
            assert response is not None
            assert response.findtext(f"{NS}NotificationEventName") == "AuctionCheckoutComplete"
            assert response.findtext(f"{NS}RecipientUserID") == "sandbox_seller_1"
            timestamp = response.findtext(f"{NS}Timestamp")
            signature = root.findtext(
                f"{SOAP}Header/{NS}RequesterCredentials/{NS}NotificationSignature"
            )
            assert timestamp is not None
            # KB 1201: base64(md5(Timestamp + DevID + AppID + CertID)).
            md5 = hashlib.md5(
                f"{timestamp}ebaysync-sandbox-devidtest-SBX-clienttest-secret".encode()
            ).digest()
            assert signature == base64.b64encode(md5).decode()
            order = response.findtext(
                f"{NS}TransactionArray/{NS}Transaction/{NS}ContainingOrder/{NS}OrderID"
            )
            assert order is not None
            got.append(order)
        assert sorted(got) == sorted(orders)


async def test_reorder_and_delay_faults_lose_nothing() -> None:
    async with served(notify_workers=1) as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        await push.subscribe("ORDER_CONFIRMATION", destination_id)
        await push.http.put("/sandbox/notifications/faults", json={"reorder": 1})
        await push.advance(24 * 3600)
        stats = await push.settled()
        dates = [d["notification"]["eventDate"] for d in receiver.documents()]
        assert len(dates) == stats["totals"]["generated"] >= 3
        assert dates != sorted(dates)  # one worker: only the fault can reorder
        assert stats["totals"]["reordered"] > 0
        await push.http.put(
            "/sandbox/notifications/faults", json={"delay": 1, "delay_seconds": 0.2}
        )
        before = len(receiver.received)
        await push.advance(12 * 3600)
        stats = await push.settled()
        delayed = stats["totals"]["delayed"]
        assert delayed > 0 and len(receiver.received) - before == delayed


async def test_revoking_consent_sends_authorization_revocation() -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        resp = await push.subscribe("AUTHORIZATION_REVOCATION", destination_id, app=True)
        assert resp.status_code == 201
        params = {
            "client_id": "test-SBX-client",
            "redirect_uri": "test-RuName",
            "response_type": "code",
            "scope": USER_SCOPES,
            "state": "s",
            "seller": "sandbox_seller_3",
        }
        location = (await push.http.get("/oauth2/authorize", params=params)).headers["location"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "test-RuName"}
        auth = basic_auth("test-SBX-client", "test-secret")
        refresh = (await push.http.post(TOKEN, data=form, headers=auth)).json()["refresh_token"]
        resp = await push.http.post("/sandbox/tokens/revoke", json={"token": refresh})
        assert resp.status_code == 200
        await push.settled()
        [document] = receiver.documents()
        assert document["metadata"]["topic"] == "AUTHORIZATION_REVOCATION"
        assert document["notification"]["data"]["username"] == "sandbox_seller_3"


async def test_an_endpoint_that_keeps_failing_is_marked_down() -> None:
    receiver = Receiver(statuses=[500] * 1000)
    overrides: dict[str, Any] = {"notify_retry_seconds": "600", "notify_markdown_hours": 0.1}
    async with served(**overrides) as push, serve_receiver(receiver):
        destination_id = await push.setup_destination(receiver)
        await push.subscribe("ORDER_CONFIRMATION", destination_id)
        await push.advance(12 * 3600)
        stats = await push.settled()
        assert stats["totals"]["delivered"] == 0 and stats["scheduled_retries"] > 0
        await push.advance(600)  # the resends fail 10 min after the first failure
        stats = await push.settled()
        resp = await push.http.get(f"{NOTIFY}/destination/{destination_id}", headers=push.app)
        assert resp.json()["status"] == "MARKED_DOWN"
        received = len(receiver.received)
        await push.advance(12 * 3600)
        stats = await push.settled()
        assert len(receiver.received) == received  # nothing goes to a marked-down endpoint
        # Updating the destination (challenge passed) brings it back.
        receiver.statuses.clear()
        body = {
            "name": "ebaysync",
            "status": "ENABLED",
            "deliveryConfig": {"endpoint": receiver.endpoint, "verificationToken": receiver.token},
        }
        resp = await push.http.put(
            f"{NOTIFY}/destination/{destination_id}", json=body, headers=push.app
        )
        assert resp.status_code == 204
        await push.advance(12 * 3600)
        stats = await push.settled()
        assert stats["topics"]["ORDER_CONFIRMATION"]["delivered"] > 0
