"""The refresh request to eBay's token endpoint, and its masked views for operators.

One home for what a refresh sends (the token service sends it; the admin API previews it) and
for how a request or answer is masked before anyone sees or stores it: the client id keeps a
few characters, the client secret, Basic credentials and every token never leave.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

TOKEN_PATH = "/identity/v1/oauth2/token"
REFRESH_GRANT = "refresh_token"
HIDDEN = "[not shown]"
# Form fields and JSON keys that carry a secret: never shown, never stored.
SECRET_FIELDS = frozenset(
    {"refresh_token", "access_token", "code", "client_secret", "password", "id_token"}
)
# Headers shown as they are; every other one is masked (Authorization, cookies, ...).
SHOWN_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "accept",
        "user-agent",
        "cache-control",
        "pragma",
        "date",
        "x-ebay-c-request-id",
        "rlogid",
        "x-ebay-request-id",
        "server",
    }
)
MAX_BODY_CHARS = 4000


def token_url(api_base_url: str) -> str:
    return f"{api_base_url}{TOKEN_PATH}"


def refresh_form(refresh_token: str, scopes: str) -> dict[str, str]:
    """The form of a refresh-token grant (contracts: oauth/refresh_token_grant.request.txt)."""
    return {"grant_type": REFRESH_GRANT, "refresh_token": refresh_token, "scope": scopes}


def mask_client_id(client_id: str) -> str:
    """Enough of the client id to tell keysets apart, not enough to reuse it."""
    if len(client_id) <= 8:
        return "*" * len(client_id)
    return f"{client_id[:4]}{'*' * (len(client_id) - 8)}{client_id[-4:]}"


def masked_form(form: Mapping[str, str]) -> dict[str, str]:
    return {k: (HIDDEN if k in SECRET_FIELDS else v) for k, v in form.items()}


def masked_headers(headers: Mapping[str, str], client_id: str) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == "authorization":
            scheme = value.split(" ", 1)[0]
            shown[lower] = f"{scheme} base64({mask_client_id(client_id)}:{HIDDEN})"
        elif lower in SHOWN_HEADERS:
            shown[lower] = value
        else:
            shown[lower] = HIDDEN
    return shown


def masked_body(text: str) -> Any:
    """eBay's answer with every secret field blanked: parsed JSON when it is JSON."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:MAX_BODY_CHARS]
    return _mask_json(body)


def _mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (HIDDEN if k in SECRET_FIELDS else _mask_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def refresh_preview(api_base_url: str, client_id: str, scopes: str) -> dict[str, Any]:
    """What a refresh would send, masked: nothing secret is even read to build it."""
    form = masked_form(refresh_form(HIDDEN, scopes))
    return {
        "method": "POST",
        "url": token_url(api_base_url),
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "authorization": f"Basic base64({mask_client_id(client_id)}:{HIDDEN})",
        },
        "form": form,
        "grant_type": REFRESH_GRANT,
        "scopes": scopes.split(),
        "client_id": mask_client_id(client_id),
    }


def failure_capture(
    *,
    at: datetime,
    method: str,
    url: str,
    request_headers: Mapping[str, str],
    form: Mapping[str, str],
    client_id: str,
    status: int,
    response_headers: Mapping[str, str],
    response_text: str,
    error: str,
) -> dict[str, Any]:
    """A failed token call as stored for operators (JSON-ready, masked)."""
    return {
        "at": at.isoformat(),
        "error": error,
        "request": {
            "method": method,
            "url": url,
            "headers": masked_headers(request_headers, client_id),
            "form": masked_form(form),
        },
        "response": {
            "status": status,
            "headers": masked_headers(response_headers, client_id),
            "body": masked_body(response_text),
        },
    }
