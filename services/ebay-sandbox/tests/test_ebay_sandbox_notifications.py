"""Push notifications: the contract's procedures, management calls and the payloads against
their AsyncAPI contracts. Deliveries, retries and faults: test_ebay_sandbox_notifications_delivery.
"""

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator

from ebay_sandbox.clock import DAY, to_ms
from ebay_sandbox.notifications.changes import Change, ChangeKind, SellerWatch
from ebay_sandbox.notifications.payloads import (
    rest_envelope,
    rest_notifications,
)
from ebay_sandbox.notifications.signatures import PushKeys, challenge_response, trading_signature
from ebay_sandbox.notifications.trading_payloads import soap_envelope, trading_notifications
from ebay_sandbox.state import Sandbox
from testkit.sandbox_client import SCOPE, START, Json, make_config
from testkit.sandbox_push import (
    NOTIFY,
    Receiver,
    serve_receiver,
    served,
    verify_ebay_signature,
)

CONTRACTS = Path(__file__).parent / "contracts" / "notifications"


def _vector(name: str) -> Json:
    path = CONTRACTS / name
    data: Json = json.loads(path.read_text())
    return data


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
