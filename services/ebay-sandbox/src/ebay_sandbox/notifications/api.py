"""Commerce Notification API v1 (api host): config, destinations (with the endpoint challenge),
subscriptions, topics and public keys, as the OpenAPI contract and fact sheet §3 describe them."""

import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import SCOPE_ROOT
from ebay_sandbox.errors import EbayApiError, error_entry, insufficient_permissions
from ebay_sandbox.gateway import app_grant
from ebay_sandbox.notifications.signatures import challenge_response
from ebay_sandbox.notifications.store import Destination, Subscription
from ebay_sandbox.notifications.topics import (
    SUBSCRIPTION_READ_SCOPES,
    SUBSCRIPTION_SCOPE,
    TOPICS,
    Topic,
)
from ebay_sandbox.paging import dumps
from ebay_sandbox.state import Sandbox, SandboxDep, base_url
from ebay_sandbox.tokens import Grant

PREFIX = "/commerce/notification/v1"
router = APIRouter(prefix=PREFIX)
DOMAIN = "API_NOTIFICATION"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,80}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_STATUSES = frozenset({"ENABLED", "DISABLED"})
CHALLENGE_TIMEOUT_S = 3.0
MESSAGES = {
    195001: (404, "The specified key id is invalid."),
    195002: (404, "Invalid or missing topic id."),
    195003: (409, "Please provide configurations required for notifications. Refer to /config"),
    195004: (400, "Invalid limit. Supported ranges 10 - 100."),
    195005: (400, "Invalid continuation token."),
    195006: (400, "Invalid or missing subscription status."),
    195007: (400, "Invalid or missing destination id."),
    195008: (
        400,
        "Invalid or missing schema version. Please refer to /topic/{topic_id} for supported "
        "schema versions.",
    ),
    195009: (400, "Specified format is not supported for the topic."),
    195010: (400, "Invalid or missing protocol"),
    195011: (403, "Not authorized for this topic."),
    195012: (409, "Subscription already exists"),
    195013: (404, "The subscription id does not exist."),
    195014: (
        409,
        "The subscription cannot be enabled since the topic or payload is no longer supported.",
    ),
    195015: (409, "The subscription cannot be enabled since the destination is not enabled."),
    195016: (400, "Invalid name. Markups or lengths greater than 64 not supported"),
    195017: (400, "Invalid or missing endpoint."),
    195018: (400, "Invalid or missing destination status. Supported values:[ENABLED,DISABLED]"),
    195019: (400, "Invalid or missing verification token for this endpoint."),
    195020: (409, "Challenge verification failed for requested endpoint"),
    195021: (409, "Destination exists for this endpoint"),
    195022: (404, "Invalid or missing destination id."),
    195024: (409, "Destination is in use and cannot be deleted."),
    195025: (400, "Invalid or missing email."),
    195026: (404, "Configuration Not Found."),
    195027: (400, "Invalid or missing topic id."),
}


def notification_error(error_id: int, status: int | None = None) -> EbayApiError:
    """eBay's error for ``error_id`` (status and message from the OpenAPI contract)."""
    default, message = MESSAGES[error_id]
    return EbayApiError(status or default, [error_entry(error_id, DOMAIN, "REQUEST", message)])


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        payload = None
    return payload if isinstance(payload, dict) else {}


# --- who may call -----------------------------------------------------------------------------


def application_only(sandbox: Sandbox, request: Request, name: str) -> Grant:
    """Methods whose only security scheme is the client credentials grant (``api_scope``)."""
    request.state.endpoint = name
    grant = app_grant(sandbox, request)
    if grant.seller is not None:
        raise insufficient_permissions()
    return grant


def subscriber(sandbox: Sandbox, request: Request, name: str, *, write: bool) -> Grant:
    """Subscription methods: an application token, or a user token holding the subscription
    scope (``.readonly`` is enough to read)."""
    request.state.endpoint = name
    grant = app_grant(sandbox, request)
    accepted = {SUBSCRIPTION_SCOPE} if write else SUBSCRIPTION_READ_SCOPES
    if grant.seller is not None and not grant.scopes & accepted:
        raise insufficient_permissions()
    return grant


def _owner(grant: Grant) -> str | None:
    return grant.seller.username if grant.seller is not None else None


# --- paging -----------------------------------------------------------------------------------


def _page(request: Request, items: list[dict[str, object]], key: str) -> dict[str, object]:
    params = request.query_params
    raw_limit = params.get("limit")
    limit = 20
    if raw_limit is not None:
        if not raw_limit.strip().isdigit() or not 10 <= int(raw_limit) <= 100:
            raise notification_error(195004)
        limit = int(raw_limit)
    offset = 0
    token = params.get("continuation_token")
    if token is not None:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(decoded["offset"])
        except (ValueError, KeyError, TypeError):
            raise notification_error(195005) from None
        if not 0 <= offset <= len(items):
            raise notification_error(195005)
    here = f"{base_url(request)}{request.url.path}"
    query = {k: v for k, v in params.items()}
    body: dict[str, object] = {
        "href": f"{here}?{urlencode(query)}" if query else here,
        "limit": limit,
        "total": len(items),
        key: items[offset : offset + limit],
    }
    if offset + limit < len(items):
        cursor = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode())
        body["next"] = f"{here}?{urlencode({**query, 'continuation_token': cursor.decode()})}"
    return body


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


def _subscription(sandbox: Sandbox, grant: Grant, subscription_id: str) -> Subscription:
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
    grant = subscriber(sandbox, request, "GET getSubscription", write=False)
    return _json(_subscription(sandbox, grant, subscription_id).as_json())


@router.put("/subscription/{subscription_id}")
async def update_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``updateSubscription``: status, destination and payload."""
    grant = subscriber(sandbox, request, "PUT updateSubscription", write=True)
    sub = _subscription(sandbox, grant, subscription_id)
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
    grant = subscriber(sandbox, request, "DELETE deleteSubscription", write=True)
    sub = _subscription(sandbox, grant, subscription_id)
    sandbox.notifications.remove_subscription(sub)
    return Response(status_code=204)


@router.post("/subscription/{subscription_id}/enable")
async def enable_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``enableSubscription``: refused while the destination is not enabled."""
    grant = subscriber(sandbox, request, "POST enableSubscription", write=True)
    sub = _subscription(sandbox, grant, subscription_id)
    _enableable(sandbox, "ENABLED", sub.destination_id)
    sub.status = "ENABLED"
    sandbox.push.kick()
    return Response(status_code=204)


@router.post("/subscription/{subscription_id}/disable")
async def disable_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``disableSubscription``."""
    grant = subscriber(sandbox, request, "POST disableSubscription", write=True)
    _subscription(sandbox, grant, subscription_id).status = "DISABLED"
    return Response(status_code=204)


@router.post("/subscription/{subscription_id}/test")
async def test_subscription(
    subscription_id: str, request: Request, sandbox: SandboxDep
) -> Response:
    """``testSubscription``: 202; a mocked payload goes out even while the subscription is
    disabled."""
    grant = subscriber(sandbox, request, "POST testSubscription", write=True)
    sub = _subscription(sandbox, grant, subscription_id)
    sandbox.push.send_test(sub)
    return Response(status_code=202)
