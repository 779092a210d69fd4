"""Push notifications: management calls, signatures, delivery, retries and faults.

Deliveries need the sender running, so those tests serve the sandbox over real HTTP (its
lifespan starts the sender) and point it at a receiving endpoint served by the test.
"""

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request, Response
from jsonschema import Draft202012Validator

from ebay_sandbox.clock import DAY, HOUR, to_ms
from ebay_sandbox.notifications.changes import Change, ChangeKind, SellerWatch
from ebay_sandbox.notifications.payloads import (
    rest_envelope,
    rest_notifications,
)
from ebay_sandbox.notifications.signatures import PushKeys, challenge_response, trading_signature
from ebay_sandbox.notifications.trading_payloads import soap_envelope, trading_notifications
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.state import Sandbox
from ebay_sandbox.world.model import EventKind
from ebay_sandbox.world.orders import MAX_SPAN_MS
from testkit.sandbox import serve_asgi, serve_sandbox
from testkit.waiting import eventually

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = "https://api.ebay.com/oauth/api_scope"
CONTRACTS = Path(__file__).parent / "contracts" / "notifications"
NOTIFY = "/commerce/notification/v1"
TOKEN = "/identity/v1/oauth2/token"
VERIFICATION_TOKEN = "ebaysync_verification_token_0123456789abcdef"
USER_SCOPES = " ".join(
    f"{SCOPE}{name}"
    for name in (
        "",
        "/sell.fulfillment.readonly",
        "/commerce.notification.subscription",
    )
)
Json = dict[str, Any]


def make_config(**overrides: Any) -> SandboxConfig:
    """The suite's reproducible config (conftest.make_config): pinned, frozen clock."""
    values: dict[str, Any] = {
        "seed": 7,
        "sellers": 3,
        "orders_per_day": 10,
        "history_days": 120,
        "client_id": "test-SBX-client",
        "client_secret": "test-secret",
        "ru_name": "test-RuName",
        "accept_url": "https://client.test/accept",
        "clock_offset_seconds": 0,
        "clock_start": START,
        "clock_frozen": True,
    }
    values.update(overrides)
    return SandboxConfig(**values)


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _vector(name: str) -> Json:
    path = CONTRACTS / name
    data: Json = json.loads(path.read_text())
    return data


# --- a receiving endpoint ---------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTPS-style push endpoint: answers eBay's challenge and records every POST."""

    token: str = VERIFICATION_TOKEN
    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answers in turn, then 204
    wrong_challenge: bool = False
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    challenges: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/hook")
        async def challenge(challenge_code: str) -> dict[str, str]:
            self.challenges += 1
            token = "x" + self.token if self.wrong_challenge else self.token
            return {"challengeResponse": challenge_response(challenge_code, token, self.endpoint)}

        @app.post("/hook")
        async def push(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            status = self.statuses.pop(0) if self.statuses else 204
            return Response(status_code=status)

        return app

    @property
    def endpoint(self) -> str:
        return f"{self.url}/hook"

    def documents(self) -> list[Json]:
        return [json.loads(body) for _, body in self.received]


@asynccontextmanager
async def serve_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    async with serve_asgi(receiver.app()) as url:
        receiver.url = url
        yield receiver


@dataclass
class Push:
    """A served sandbox with an application token and a seller's user token."""

    http: httpx.AsyncClient
    scopes: str
    username: str
    app: dict[str, str] = field(default_factory=dict)
    user: dict[str, str] = field(default_factory=dict)

    async def renew(self) -> None:
        """Fresh tokens (access tokens last 2 h of sandbox time)."""
        app, user = await _tokens(self.http, self.scopes, self.username)
        self.app = {"Authorization": f"Bearer {app}"}
        self.user = {"Authorization": f"Bearer {user}"}

    async def setup_destination(self, receiver: Receiver, status: str = "ENABLED") -> str:
        resp = await self.http.put(
            f"{NOTIFY}/config", json={"alertEmail": "ops@example.com"}, headers=self.app
        )
        assert resp.status_code == 204, resp.text
        body = {
            "name": "ebaysync",
            "status": status,
            "deliveryConfig": {"endpoint": receiver.endpoint, "verificationToken": receiver.token},
        }
        resp = await self.http.post(f"{NOTIFY}/destination", json=body, headers=self.app)
        assert resp.status_code == 201, resp.text
        return resp.headers["location"].rsplit("/", 1)[-1]

    async def subscribe(
        self, topic: str, destination_id: str, status: str = "ENABLED", app: bool = False
    ) -> httpx.Response:
        body = {
            "topicId": topic,
            "status": status,
            "destinationId": destination_id,
            "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"},
        }
        headers = self.app if app else self.user
        return await self.http.post(f"{NOTIFY}/subscription", json=body, headers=headers)

    async def advance(self, seconds: float) -> None:
        resp = await self.http.post("/sandbox/clock/advance", json={"seconds": seconds})
        assert resp.status_code == 200, resp.text

    async def settled(self) -> Json:
        """Scan, then wait until nothing is on its way; the final statistics."""
        await self.renew()
        await self.http.post("/sandbox/notifications/scan")
        stats: Json = {}

        async def idle() -> bool:
            nonlocal stats
            stats = (await self.http.get("/sandbox/notifications/stats")).json()
            return bool(stats["pending"] == 0)

        await eventually(idle, within=30, what="notifications delivered", interval=0.05)
        return stats


async def _tokens(http: httpx.AsyncClient, scopes: str, username: str) -> tuple[str, str]:
    auth = basic_auth("test-SBX-client", "test-secret")
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    app = (await http.post(TOKEN, data=form, headers=auth)).json()["access_token"]
    params = {
        "client_id": "test-SBX-client",
        "redirect_uri": "test-RuName",
        "response_type": "code",
        "scope": scopes,
        "state": "s",
        "seller": username,
    }
    location = (await http.get("/oauth2/authorize", params=params)).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "test-RuName"}
    user = (await http.post(TOKEN, data=form, headers=auth)).json()["access_token"]
    return app, user


@asynccontextmanager
async def served(
    scopes: str = USER_SCOPES, username: str = "sandbox_seller_1", **overrides: Any
) -> AsyncIterator[Push]:
    overrides.setdefault("notify_retry_seconds", "30,60")
    async with serve_sandbox(make_config(**overrides)) as url:  # noqa: SIM117 (the client needs the URL)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            push = Push(http, scopes, username)
            await push.renew()
            yield push


# --- the contract's procedures ----------------------------------------------------------------


def verify_ebay_signature(header: str, body: bytes, public_key: Json) -> bool:
    """Fact sheet §4, written from the contract: decode the header, load the one-line PEM,
    verify ECDSA with the key's digest over the compact re-serialised body."""
    signature = json.loads(base64.b64decode(header))
    assert signature["alg"] == "ecdsa"
    pem = public_key["key"]
    pem = pem.replace("-----BEGIN PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\n")
    pem = pem.replace("-----END PUBLIC KEY-----", "\n-----END PUBLIC KEY-----")
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    digest = {"SHA1": hashes.SHA1(), "SHA256": hashes.SHA256()}[public_key["digest"]]
    compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    try:
        key.verify(base64.b64decode(signature["signature"]), compact, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


def test_challenge_response_matches_the_vector() -> None:
    vector = _vector("challenge_test_vector.json")
    got = challenge_response(
        vector["challengeCode"], vector["verificationToken"], vector["endpoint"]
    )
    assert got == vector["expected_response_body"]["challengeResponse"]


def test_verifier_accepts_ebays_vector_and_refuses_a_mismatch() -> None:
    vectors = _vector("account_deletion_signed_test_vectors.json")
    for name, expected in (("VALID", True), ("SIGNATURE_MISMATCH", False)):
        case = vectors[name]
        body = json.dumps(case["message"], separators=(",", ":")).encode()
        assert verify_ebay_signature(case["signature"], body, case["response"]) is expected


def test_trading_signature_matches_the_vector() -> None:
    vector = _vector("trading_notification_signature_vector.json")
    keyset = (vector["devId"], vector["appId"], vector["certId"])
    assert trading_signature(vector["timestamp"], *keyset) == vector["expected_signature"]
    assert hashlib.md5(vector["md5_input"].encode()).digest() == base64.b64decode(
        vector["expected_signature"]
    )
    # The envelope the sandbox sends carries the same signature for the Body's Timestamp.
    sandbox = Sandbox(make_config())
    seller = sandbox.sellers[0]
    world = sandbox.world(seller)
    index = world.orders.between(to_ms(START) - DAY, to_ms(START))[0]
    plan = world.orders.get(index).plan
    change = Change(ChangeKind.ORDER, plan.created_ms, seller, plan, plan.events[0])
    note = next(n for n in trading_notifications(change) if n.signed)
    at = to_ms(START)
    root = ET.fromstring(soap_envelope(note, at, keyset))
    ns = {"e": "urn:ebay:apis:eBLBaseComponents", "s": "http://schemas.xmlsoap.org/soap/envelope/"}
    signature = root.findtext("s:Header/e:RequesterCredentials/e:NotificationSignature", None, ns)
    timestamp = root.findtext("s:Body/e:GetItemTransactionsResponse/e:Timestamp", None, ns)
    assert timestamp is not None and signature == trading_signature(timestamp, *keyset)


def test_push_keys_sign_what_get_public_key_verifies() -> None:
    keys = PushKeys(7, "test-secret")
    body = b'{"metadata":{"topic":"ORDER_CONFIRMATION"},"notification":{"data":{}}}'
    header = keys.signature_header(body)
    kid = json.loads(base64.b64decode(header))["kid"]
    public = keys.public_key(kid)
    assert public is not None and public["algorithm"] == "ECDSA"
    assert verify_ebay_signature(header, body, public)
    assert not verify_ebay_signature(header, body.replace(b"{}", b'{"x":1}'), public)
    # Deterministic: a restarted sandbox keeps the key ids receivers cached.
    assert PushKeys(7, "test-secret").public_key(kid) == public


# --- management calls -------------------------------------------------------------------------


def _error_ids(resp: httpx.Response) -> list[int]:
    return [e["errorId"] for e in resp.json()["errors"]]


async def test_destinations_need_config_and_a_passed_challenge(notification_spec: Any) -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        body = {
            "name": "ebaysync",
            "status": "ENABLED",
            "deliveryConfig": {"endpoint": receiver.endpoint, "verificationToken": receiver.token},
        }
        resp = await push.http.post(f"{NOTIFY}/destination", json=body, headers=push.app)
        assert (resp.status_code, _error_ids(resp)) == (409, [195003])
        resp = await push.http.post(f"{NOTIFY}/destination", json=body, headers=push.user)
        assert (resp.status_code, _error_ids(resp)) == (403, [1100])  # application token only
        destination_id = await push.setup_destination(receiver)
        assert receiver.challenges == 1
        resp = await push.http.get(f"{NOTIFY}/destination/{destination_id}", headers=push.app)
        assert resp.status_code == 200
        notification_spec.validate("Destination", resp.json())
        assert resp.json()["deliveryConfig"]["endpoint"] == receiver.endpoint
        resp = await push.http.post(f"{NOTIFY}/destination", json=body, headers=push.app)
        assert (resp.status_code, _error_ids(resp)) == (409, [195021])
        bad = {
            **body,
            "deliveryConfig": {"endpoint": receiver.endpoint, "verificationToken": "short"},
        }
        resp = await push.http.post(f"{NOTIFY}/destination", json=bad, headers=push.app)
        assert (resp.status_code, _error_ids(resp)) == (400, [195019])
        receiver.wrong_challenge = True
        resp = await push.http.put(
            f"{NOTIFY}/destination/{destination_id}", json=body, headers=push.app
        )
        assert (resp.status_code, _error_ids(resp)) == (409, [195020])
        resp = await push.http.get(f"{NOTIFY}/destination", headers=push.app)
        notification_spec.validate("DestinationSearchResponse", resp.json())
        assert resp.json()["total"] == 1


async def test_topics_carry_scope_context_and_authorization_scopes(
    client: httpx.AsyncClient, app_token: Any, notification_spec: Any
) -> None:
    headers = {"Authorization": f"Bearer {await app_token()}"}
    resp = await client.get(f"{NOTIFY}/topic", params={"limit": 10}, headers=headers)
    assert resp.status_code == 200
    notification_spec.validate("TopicSearchResponse", resp.json())
    topics = {t["topicId"]: t for t in resp.json()["topics"]}
    assert topics["ORDER_CONFIRMATION"]["scope"] == "USER"
    assert topics["ORDER_CONFIRMATION"]["context"] == "COMMERCE"
    assert (
        f"{SCOPE}/sell.fulfillment.readonly" in topics["ORDER_CONFIRMATION"]["authorizationScopes"]
    )
    assert topics["MARKETPLACE_ACCOUNT_DELETION"]["scope"] == "APPLICATION"
    resp = await client.get(f"{NOTIFY}/topic/NEW_MESSAGE", headers=headers)
    assert resp.json()["authorizationScopes"] == [f"{SCOPE}/commerce.message"]
    resp = await client.get(f"{NOTIFY}/topic/NOPE", headers=headers)
    assert (resp.status_code, _error_ids(resp)) == (404, [195002])
    resp = await client.get(f"{NOTIFY}/topic", params={"limit": 5}, headers=headers)
    assert (resp.status_code, _error_ids(resp)) == (400, [195004])


async def test_subscriptions_enforce_scopes_and_lifecycle(notification_spec: Any) -> None:
    async with served() as push, serve_receiver(Receiver()) as receiver:
        destination_id = await push.setup_destination(receiver)
        # The seller's consent lacks commerce.message: eBay's 403 195011.
        resp = await push.subscribe("NEW_MESSAGE", destination_id)
        assert (resp.status_code, _error_ids(resp)) == (403, [195011])
        assert resp.json()["errors"][0]["message"] == "Not authorized for this topic."
        # USER topics need the seller's token, APPLICATION topics the application's.
        resp = await push.subscribe("ORDER_CONFIRMATION", destination_id, app=True)
        assert (resp.status_code, _error_ids(resp)) == (403, [195011])
        resp = await push.subscribe("MARKETPLACE_ACCOUNT_DELETION", destination_id)
        assert (resp.status_code, _error_ids(resp)) == (403, [195011])
        resp = await push.subscribe("ORDER_CONFIRMATION", "nope")
        assert (resp.status_code, _error_ids(resp)) == (400, [195007])
        resp = await push.subscribe("ORDER_CONFIRMATION", destination_id, status="DISABLED")
        assert resp.status_code == 201, resp.text
        sub_id = resp.headers["location"].rsplit("/", 1)[-1]
        resp = await push.subscribe("ORDER_CONFIRMATION", destination_id)
        assert (resp.status_code, _error_ids(resp)) == (409, [195012])
        resp = await push.http.get(f"{NOTIFY}/subscription/{sub_id}", headers=push.user)
        notification_spec.validate("Subscription", resp.json())
        assert resp.json()["status"] == "DISABLED"
        resp = await push.http.post(f"{NOTIFY}/subscription/{sub_id}/enable", headers=push.user)
        assert resp.status_code == 204
        resp = await push.http.get(f"{NOTIFY}/subscription", headers=push.user)
        notification_spec.validate("SubscriptionSearchResponse", resp.json())
        assert [s["status"] for s in resp.json()["subscriptions"]] == ["ENABLED"]
        resp = await push.http.delete(f"{NOTIFY}/destination/{destination_id}", headers=push.app)
        assert (resp.status_code, _error_ids(resp)) == (409, [195024])
        resp = await push.subscribe("MARKETPLACE_ACCOUNT_DELETION", destination_id, app=True)
        assert resp.status_code == 201, resp.text
        assert (
            await push.http.delete(f"{NOTIFY}/subscription/{sub_id}", headers=push.user)
        ).status_code == 204
        resp = await push.http.get(f"{NOTIFY}/subscription/{sub_id}", headers=push.user)
        assert (resp.status_code, _error_ids(resp)) == (404, [195013])


# --- sending ----------------------------------------------------------------------------------


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


async def _public_key(push: Push, header: str) -> Json:
    kid = json.loads(base64.b64decode(header))["kid"]
    resp = await push.http.get(f"{NOTIFY}/public_key/{kid}", headers=push.app)
    assert resp.status_code == 200, resp.text
    key: Json = resp.json()
    return key


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
                await _public_key(push, headers["x-ebay-signature"]),
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
        key = await _public_key(push, headers["x-ebay-signature"])
        assert verify_ebay_signature(headers["x-ebay-signature"], body, key)


def _trading_headers(call: str, token: str) -> dict[str, str]:
    return {
        "X-EBAY-API-CALL-NAME": call,
        "X-EBAY-API-SITEID": "0",
        "X-EBAY-API-COMPATIBILITY-LEVEL": "1355",
        "X-EBAY-API-IAF-TOKEN": token,
        "Content-Type": "text/xml",
    }


async def _trading(push: Push, call: str, inner: str) -> ET.Element:
    token = push.user["Authorization"].removeprefix("Bearer ")
    body = f'<{call}Request xmlns="urn:ebay:apis:eBLBaseComponents">{inner}</{call}Request>'
    resp = await push.http.post("/ws/api.dll", content=body, headers=_trading_headers(call, token))
    root = ET.fromstring(resp.content)
    assert root.findtext(f"{NS}Ack") == "Success", resp.text
    return root


NS = "{urn:ebay:apis:eBLBaseComponents}"
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


# --- payloads against the AsyncAPI contracts ---------------------------------------------------


def _strict(node: Any) -> Any:
    """AsyncAPI schema -> strict JSON Schema: no property the contract does not name."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k not in ("description", "example", "default")}
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
    return out


def _payload_validator(topic: str) -> Draft202012Validator:
    document = yaml.safe_load((CONTRACTS / f"{topic.lower()}.asyncapi.yaml").read_text())
    schema = {"$ref": "#/components/messages/message/payload", **_strict(document)}
    return Draft202012Validator(schema)


def test_every_rest_payload_follows_its_asyncapi_contract() -> None:
    sandbox = Sandbox(make_config())
    seller = sandbox.sellers[0]
    start = to_ms(START) - 60 * DAY
    watch = SellerWatch(sandbox.world(seller), start)
    changes = watch.advance(to_ms(START), listings=False)
    changes.append(Change(ChangeKind.ACCOUNT_DELETED, to_ms(START), seller))
    notes = [n for c in changes for n in rest_notifications(c)]
    by_topic: dict[str, int] = {}
    for note in notes:
        by_topic[note.topic] = by_topic.get(note.topic, 0) + 1
    contracted = {
        "ORDER_CONFIRMATION",
        "ITEM_MARKED_SHIPPED",
        "NEW_MESSAGE",
        "ORDER_RETURN_ACTIVITY",
        "ORDER_CANCELLATION_ACTIVITY",
        "ORDER_INQUIRY_ACTIVITY",
        "MARKETPLACE_ACCOUNT_DELETION",
    }
    assert set(by_topic) == contracted, by_topic
    validators = {topic: _payload_validator(topic) for topic in contracted}
    for note in notes:
        document = rest_envelope(note, "1.0", "id-1", to_ms(START), 1)
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validators[note.topic].iter_errors(document)
        ]
        assert not problems, (note.topic, problems[:5])


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
