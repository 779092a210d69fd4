"""The body of an eBay notification, as every ingress route takes it: read up to
ADMIN_API_WEBHOOK_MAX_BODY_BYTES (413 beyond), and for ``X-EBAY-SIGNATURE`` notifications
verified before anything else is parsed (412 forged or unknown key, 503 when eBay's key cannot
be fetched now), then parsed in a thread and depth-limited (400).

Used by the account-deletion endpoint (routes.webhooks) and the push ingress (routes.push) as
dependencies, so each route states only what it does with a verified body.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Header, HTTPException, Request, status

from admin_api.context import AdminContext
from admin_api.dependencies import ContextDep, SettingsDep
from admin_api.notifications import (
    BadSignature,
    KeyUnavailable,
    NotANotice,
    compact_json,
    load_public_key,
    parse_notice,
    parse_signature_header,
    signs,
)
from admin_api.settings import AdminApiSettings

log = logging.getLogger(__name__)

# The refusals of a body read by :data:`BoundedBody` and verified by :data:`SignedRestBody`.
SIGNED_BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "The signature does not verify, or its key is unknown to eBay"},
    413: {"description": "The body is larger than ADMIN_API_WEBHOOK_MAX_BODY_BYTES"},
}


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes: from its
    Content-Length before reading anything, else while streaming it, never buffering more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"the body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, f"the body exceeds {limit} bytes"
            )
    return bytes(body)


async def verified_rest_body(
    body: bytes, signature: str | None, context: AdminContext, settings: AdminApiSettings
) -> Any:
    """The parsed body of an ``X-EBAY-SIGNATURE``-signed notification, verified before it is
    parsed (unless eBay signed the compact form, which only a parse can rebuild): 412 when
    the signature or its key is wrong, 503 when eBay's key cannot be fetched now."""
    parsed: Any = None
    try:
        header = parse_signature_header(signature)
        key = await context.notification_keys.get(header.kid)
        if key is None:
            raise BadSignature(f"eBay does not know key {header.kid}")
        public_key = load_public_key(key)
        if not signs(public_key, header, body):
            parsed = await parse_bounded(body, settings)
            if not signs(public_key, header, compact_json(parsed)):
                raise BadSignature("signature does not match the message")
    except BadSignature as exc:
        log.warning("notification refused: %s", exc)
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, str(exc)) from exc
    except KeyUnavailable as exc:
        log.warning("cannot verify a notification now: %s", exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return parsed if parsed is not None else await parse_bounded(body, settings)


async def _bounded_body(request: Request, settings: SettingsDep) -> bytes:
    return await read_bounded(request, settings.webhook_max_body_bytes)


# The body of a notification, read up to ADMIN_API_WEBHOOK_MAX_BODY_BYTES (413 beyond).
BoundedBody = Annotated[bytes, Depends(_bounded_body)]


async def _signed_rest_body(
    body: BoundedBody,
    settings: SettingsDep,
    context: ContextDep,
    x_ebay_signature: Annotated[str | None, Header(max_length=8192)] = None,
) -> Any:
    return await verified_rest_body(body, x_ebay_signature, context, settings)


# The parsed body of an ``X-EBAY-SIGNATURE``-signed notification (:func:`verified_rest_body`).
SignedRestBody = Annotated[Any, Depends(_signed_rest_body)]


async def parse_bounded(body: bytes, settings: AdminApiSettings) -> Any:
    try:
        return await anyio.to_thread.run_sync(parse_notice, body, settings.webhook_max_json_depth)
    except NotANotice as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
