"""What every Commerce Notification API method shares: its errors (from the OpenAPI contract),
JSON in and out, who may call, and paging."""

import base64
import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response

from ebay_sandbox.errors import EbayApiError, error_entry, insufficient_permissions
from ebay_sandbox.gateway import app_grant
from ebay_sandbox.notifications.topics import SUBSCRIPTION_READ_SCOPES, SUBSCRIPTION_SCOPE
from ebay_sandbox.paging import dumps
from ebay_sandbox.state import Sandbox, base_url
from ebay_sandbox.tokens import Grant

DOMAIN = "API_NOTIFICATION"
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
