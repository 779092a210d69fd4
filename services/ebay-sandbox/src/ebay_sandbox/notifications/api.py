"""Commerce Notification API v1 (api host): config, destinations (with the endpoint challenge),
subscriptions, topics and public keys, as the OpenAPI contract and fact sheet §3 describe them."""

import re
import uuid
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import SCOPE_ROOT
from ebay_sandbox.notifications.protocol import (
    _body,
    _json,
    _owner,
    _page,
    application_only,
    notification_error,
    subscriber,
)
from ebay_sandbox.notifications.signatures import challenge_response
from ebay_sandbox.notifications.store import Destination, Subscription
from ebay_sandbox.notifications.topics import (
    TOPICS,
    Topic,
)
from ebay_sandbox.state import Sandbox, SandboxDep, base_url
from ebay_sandbox.tokens import Grant

PREFIX = "/commerce/notification/v1"
router = APIRouter(prefix=PREFIX)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,80}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_STATUSES = frozenset({"ENABLED", "DISABLED"})
CHALLENGE_TIMEOUT_S = 3.0


# --- config -----------------------------------------------------------------------------------


@router.get("/config")
async def get_config(request: Request, sandbox: SandboxDep) -> Response:
    """``getConfig``."""
    application_only(sandbox, request, "GET getConfig")
    email = sandbox.notifications.alert_email
    if email is None:
        raise notification_error(195026)
    return _json({"alertEmail": email})


@router.put("/config")
async def update_config(request: Request, sandbox: SandboxDep) -> Response:
    """``updateConfig``: the alert e-mail; needed before any destination."""
    application_only(sandbox, request, "PUT updateConfig")
    email = (await _body(request)).get("alertEmail")
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise notification_error(195025)
    sandbox.notifications.alert_email = email
    return Response(status_code=204)


# --- destinations -----------------------------------------------------------------------------


async def verify_endpoint(sandbox: Sandbox, endpoint: str, token: str) -> bool:
    """eBay's challenge: ``GET <endpoint>?challenge_code=…`` must answer 200 with the hash."""
    if not sandbox.config.notify_verify_endpoint:
        return True
    code = str(uuid.uuid4())
    separator = "&" if "?" in endpoint else "?"
    try:
        async with httpx.AsyncClient(timeout=CHALLENGE_TIMEOUT_S) as http:
            reply = await http.get(f"{endpoint}{separator}challenge_code={code}")
        answer = reply.json() if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return False
    expected = challenge_response(code, token, endpoint)
    return isinstance(answer, dict) and answer.get("challengeResponse") == expected


async def _destination_request(
    sandbox: Sandbox, request: Request, current: Destination | None
) -> tuple[str, str, str, str]:
    body = await _body(request)
    name, status = body.get("name"), body.get("status")
    config = body.get("deliveryConfig")
    config = config if isinstance(config, dict) else {}
    endpoint, token = config.get("endpoint"), config.get("verificationToken")
    if not isinstance(name, str) or not name or len(name) > 64 or re.search(r"[<>]", name):
        raise notification_error(195016)
    if status not in _STATUSES:
        raise notification_error(195018)
    if not isinstance(endpoint, str) or not re.match(r"^https?://[^\s/]+", endpoint):
        raise notification_error(195017)
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise notification_error(195019)
    if sandbox.notifications.alert_email is None:
        raise notification_error(195003)
    existing = sandbox.notifications.destination_for(endpoint)
    if existing is not None and existing is not current:
        raise notification_error(195021)
    if not await verify_endpoint(sandbox, endpoint, token):
        raise notification_error(195020)
    assert isinstance(status, str)
    return name, status, endpoint, token


@router.post("/destination")
async def create_destination(request: Request, sandbox: SandboxDep) -> Response:
    """``createDestination``: 201 with ``Location``, after the endpoint passed the challenge."""
    application_only(sandbox, request, "POST createDestination")
    name, status, endpoint, token = await _destination_request(sandbox, request, None)
    store = sandbox.notifications
    destination = Destination(store.new_id(), name, status, endpoint, token)
    store.destinations[destination.destination_id] = destination
    location = f"{base_url(request)}{PREFIX}/destination/{destination.destination_id}"
    return _json({}, 201, {"Location": location})


@router.get("/destination")
async def get_destinations(request: Request, sandbox: SandboxDep) -> Response:
    """``getDestinations``."""
    application_only(sandbox, request, "GET getDestinations")
    items = [d.as_json() for d in sandbox.notifications.destinations.values()]
    return _json(_page(request, items, "destinations"))


def _destination(sandbox: Sandbox, destination_id: str) -> Destination:
    found = sandbox.notifications.destinations.get(destination_id)
    if found is None:
        raise notification_error(195022)
    return found


@router.get("/destination/{destination_id}")
async def get_destination(destination_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """``getDestination``."""
    application_only(sandbox, request, "GET getDestination")
    return _json(_destination(sandbox, destination_id).as_json())


@router.put("/destination/{destination_id}")
async def update_destination(
    destination_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``updateDestination``: the challenge runs again; ENABLED revives a marked-down one."""
    application_only(sandbox, request, "PUT updateDestination")
    destination = _destination(sandbox, destination_id)
    name, status, endpoint, token = await _destination_request(sandbox, request, destination)
    destination.name, destination.status = name, status
    destination.endpoint, destination.verification_token = endpoint, token
    destination.failing_since_ms = None
    return Response(status_code=204)


@router.delete("/destination/{destination_id}")
async def delete_destination(
    destination_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``deleteDestination``: refused while a subscription uses it."""
    application_only(sandbox, request, "DELETE deleteDestination")
    _destination(sandbox, destination_id)
    store = sandbox.notifications
    if any(s.destination_id == destination_id for s in store.subscriptions.values()):
        raise notification_error(195024)
    del store.destinations[destination_id]
    return Response(status_code=204)


# --- topics and keys --------------------------------------------------------------------------


@router.get("/topic")
async def get_topics(request: Request, sandbox: SandboxDep) -> Response:
    """``getTopics``."""
    application_only(sandbox, request, "GET getTopics")
    return _json(_page(request, [t.as_json() for t in TOPICS.values()], "topics"))


@router.get("/topic/{topic_id}")
async def get_topic(topic_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """``getTopic``."""
    application_only(sandbox, request, "GET getTopic")
    topic = TOPICS.get(topic_id)
    if topic is None:
        raise notification_error(195002)
    return _json(topic.as_json())


@router.get("/public_key/{public_key_id}")
async def get_public_key(public_key_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """``getPublicKey``: the key of a ``kid`` from ``X-EBAY-SIGNATURE``."""
    application_only(sandbox, request, "GET getPublicKey")
    key = sandbox.push_keys.public_key(public_key_id)
    if key is None:
        raise notification_error(195001)
    return _json(key)


# --- subscriptions ----------------------------------------------------------------------------


def _payload(body: dict[str, Any], topic: Topic) -> str:
    payload = body.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    if payload.get("format") != "JSON":
        raise notification_error(195009)
    version = payload.get("schemaVersion")
    if not isinstance(version, str) or version not in topic.schema_versions:
        raise notification_error(195008)
    if payload.get("deliveryProtocol") != "HTTPS":
        raise notification_error(195010)
    return version


def authorized_for(grant: Grant, topic: Topic) -> bool:
    """USER topics: a user token holding one of the topic's scopes; APPLICATION topics: an
    application token."""
    if topic.user_scoped:
        return grant.seller is not None and bool(grant.scopes & set(topic.authorization_scopes))
    return grant.seller is None and SCOPE_ROOT in grant.scopes


def _enableable(sandbox: Sandbox, status: str, destination_id: str) -> None:
    destination = sandbox.notifications.destinations[destination_id]
    if status == "ENABLED" and destination.status != "ENABLED":
        raise notification_error(195015)


@router.post("/subscription")
async def create_subscription(request: Request, sandbox: SandboxDep) -> Response:
    """``createSubscription``: 201 with ``Location``."""
    grant = subscriber(sandbox, request, "POST createSubscription", write=True)
    body = await _body(request)
    topic = TOPICS.get(body.get("topicId") or "")
    if topic is None:
        raise notification_error(195027)
    status = body.get("status")
    if status not in _STATUSES:
        raise notification_error(195006)
    version = _payload(body, topic)
    destination_id = body.get("destinationId")
    store = sandbox.notifications
    if not isinstance(destination_id, str) or destination_id not in store.destinations:
        raise notification_error(195007)
    if not authorized_for(grant, topic):
        raise notification_error(195011)
    if store.alert_email is None:
        raise notification_error(195003)
    owner = _owner(grant) if topic.user_scoped else None
    if store.subscription_for(topic.topic_id, owner) is not None:
        raise notification_error(195012)
    assert isinstance(status, str)
    _enableable(sandbox, status, destination_id)
    sub = Subscription(
        store.new_id(),
        topic.topic_id,
        status,
        destination_id,
        version,
        sandbox.clock.now_ms(),
        owner,
    )
    store.add_subscription(sub)
    sandbox.push.kick()
    location = f"{base_url(request)}{PREFIX}/subscription/{sub.subscription_id}"
    return _json({}, 201, {"Location": location})


def _visible(grant: Grant, sub: Subscription) -> bool:
    # A user token sees its own subscriptions; an application token sees every one.
    return grant.seller is None or sub.username == grant.seller.username


def _subscription(
    sandbox: Sandbox, request: Request, subscription_id: str, operation: str, *, write: bool = True
) -> Subscription:
    """The subscription a call names, once its token may make the call and see it (195013)."""
    grant = subscriber(sandbox, request, operation, write=write)
    sub = sandbox.notifications.subscriptions.get(subscription_id)
    if sub is None or not _visible(grant, sub):
        raise notification_error(195013)
    return sub


@router.get("/subscription")
async def get_subscriptions(request: Request, sandbox: SandboxDep) -> Response:
    """``getSubscriptions`` (a user token lists only its own)."""
    grant = subscriber(sandbox, request, "GET getSubscriptions", write=False)
    subs = sandbox.notifications.subscriptions.values()
    items = [s.as_json() for s in subs if _visible(grant, s)]
    return _json(_page(request, items, "subscriptions"))


@router.get("/subscription/{subscription_id}")
async def get_subscription(subscription_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """``getSubscription``."""
    sub = _subscription(sandbox, request, subscription_id, "GET getSubscription", write=False)
    return _json(sub.as_json())


@router.put("/subscription/{subscription_id}")
async def update_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``updateSubscription``: status, destination and payload."""
    sub = _subscription(sandbox, request, subscription_id, "PUT updateSubscription")
    body = await _body(request)
    status = body.get("status")
    if status not in _STATUSES:
        raise notification_error(195006)
    version = _payload(body, TOPICS[sub.topic_id])
    destination_id = body.get("destinationId")
    if (
        not isinstance(destination_id, str)
        or destination_id not in sandbox.notifications.destinations
    ):
        raise notification_error(195007)
    assert isinstance(status, str)
    _enableable(sandbox, status, destination_id)
    sub.status, sub.schema_version, sub.destination_id = status, version, destination_id
    sandbox.push.kick()
    return Response(status_code=204)


@router.delete("/subscription/{subscription_id}")
async def delete_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``deleteSubscription``."""
    sub = _subscription(sandbox, request, subscription_id, "DELETE deleteSubscription")
    sandbox.notifications.remove_subscription(sub)
    return Response(status_code=204)


@router.post("/subscription/{subscription_id}/enable")
async def enable_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``enableSubscription``: refused while the destination is not enabled."""
    sub = _subscription(sandbox, request, subscription_id, "POST enableSubscription")
    _enableable(sandbox, "ENABLED", sub.destination_id)
    sub.status = "ENABLED"
    sandbox.push.kick()
    return Response(status_code=204)


@router.post("/subscription/{subscription_id}/disable")
async def disable_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``disableSubscription``."""
    sub = _subscription(sandbox, request, subscription_id, "POST disableSubscription")
    sub.status = "DISABLED"
    return Response(status_code=204)


@router.post("/subscription/{subscription_id}/test")
async def test_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``testSubscription``: 202; a mocked payload goes out even while the subscription is
    disabled."""
    sub = _subscription(sandbox, request, subscription_id, "POST testSubscription")
    sandbox.push.send_test(sub)
    return Response(status_code=202)
