"""eBay's gateway, per API style: who calls (token, scope), the EU/UK signature, injected faults.

Order of checks, as at eBay: token (and scope), then the signature, then any injected fault,
then the method's own request validation.
"""

import asyncio
import time

from fastapi import Request

from ebay_sandbox.calls import SCOPE_ROOT, Call, name_endpoint
from ebay_sandbox.catalog import MARKETPLACES, SIGNING_MARKETPLACES
from ebay_sandbox.errors import (
    EbayApiError,
    PostOrderError,
    error_entry,
    insufficient_permissions,
    invalid_access_token,
    system_error,
    too_many_requests,
)
from ebay_sandbox.faults import ApiStyle, Endpoint, Fault, FaultKind
from ebay_sandbox.ratelimits import pool_of
from ebay_sandbox.signing import SignedRequest, check_signature
from ebay_sandbox.state import Sandbox
from ebay_sandbox.tokens import Grant, TokenStatus
from ebay_sandbox.trading import errors as trading
from ebay_sandbox.world.model import Seller

_RESPONSE_FAULTS = frozenset(
    {
        FaultKind.MALFORMED_JSON,
        FaultKind.MALFORMED_XML,
        FaultKind.DROP_CONNECTION,
        FaultKind.OVERSIZED_PAGE,
    }
)


# --- tokens ------------------------------------------------------------------------------------


def _token(request: Request, scheme: str) -> str | None:
    header = request.headers.get("authorization", "").strip()
    found, _, token = header.partition(" ")
    # Bearer is case-insensitive (RFC 6750); Post-Order wants exactly "IAF".
    same = found.lower() == scheme.lower() if scheme == "Bearer" else found == scheme
    return token.strip() if same and token.strip() else None


def _user_grant(sandbox: Sandbox, token: str | None, now_ms: int) -> Grant:
    status, grant = sandbox.tokens.inspect(token, now_ms) if token else (TokenStatus.UNKNOWN, None)
    if status is not TokenStatus.VALID or grant is None:
        raise invalid_access_token()
    if grant.seller is None:  # an application token on a user resource
        raise insufficient_permissions()
    return grant


def user_grant(sandbox: Sandbox, request: Request) -> Grant:
    """A valid user token (``Authorization: Bearer``), of any scope."""
    return _user_grant(sandbox, _token(request, "Bearer"), sandbox.clock.now_ms())


def app_grant(sandbox: Sandbox, request: Request) -> Grant:
    """Any valid token (application or user) carrying the base scope."""
    token = _token(request, "Bearer")
    now_ms = sandbox.clock.now_ms()
    status, grant = sandbox.tokens.inspect(token, now_ms) if token else (TokenStatus.UNKNOWN, None)
    if status is not TokenStatus.VALID or grant is None:
        raise invalid_access_token()
    if SCOPE_ROOT not in grant.scopes:
        raise insufficient_permissions()
    count_call(sandbox, request, None, None, now_ms)
    return grant


def count_call(
    sandbox: Sandbox, request: Request, seller: str | None, call: str | None, now_ms: int
) -> None:
    """Count an authorised call against its quota window; over the limit, refuse it as eBay
    does, if the sandbox is told to (``quota_enforce``)."""
    pool = pool_of(request.url.path, call)
    if pool is None:
        return
    rate = sandbox.quotas.record(pool, seller, now_ms)
    if sandbox.config.quota_enforce and rate.count > rate.limit:
        raise trading.quota_exceeded() if call is not None else too_many_requests(None)


# --- faults ------------------------------------------------------------------------------------


def _fault_error(fault: Fault, endpoint: Endpoint) -> Exception:
    kind = fault.kind
    is_429 = kind in (FaultKind.HTTP_429, FaultKind.RETRY_AFTER_429, FaultKind.QUOTA_2001)
    retry_after = None
    if kind is FaultKind.RETRY_AFTER_429:
        retry_after = fault.retry_after if fault.retry_after is not None else 1
    status = 500 if kind is FaultKind.HTTP_500 else fault.status
    if endpoint.style is ApiStyle.TRADING:
        if kind is FaultKind.QUOTA_518:
            return trading.quota_exceeded()
        if is_429:
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            return trading.TradingError(
                2001,
                "Too many requests.",
                "The request limit has been reached for the resource.",
                classification="SystemError",
                http_status=429,
                headers=headers,
            )
        return trading.TradingError(
            10007,
            "Internal error to the application.",
            "Internal error to the application.",
            classification="SystemError",
            http_status=status,
        )
    if is_429:
        return too_many_requests(retry_after)
    if endpoint.style is ApiStyle.POST_ORDER:
        return PostOrderError(status, 1000, "The system encountered an internal error.")
    return system_error(endpoint.error_id, endpoint.domain, status)


def _auth_fault_error(kind: FaultKind, endpoint: Endpoint) -> Exception:
    if endpoint.style is ApiStyle.TRADING:
        return (
            trading.expired_token() if kind is FaultKind.EXPIRED_TOKEN else trading.revoked_token()
        )
    return invalid_access_token()


async def _hold(request: Request, seconds: float) -> None:
    """Keep the request open for ``seconds`` or until the client gives up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


async def apply_faults(
    sandbox: Sandbox, request: Request, endpoint: Endpoint, seller: Seller, token: str
) -> Call:
    """Take the seller's next matching fault and act on it; the call carries the rest."""
    now_ms = sandbox.clock.now_ms()
    trading_name = endpoint.name if endpoint.style is ApiStyle.TRADING else None
    count_call(sandbox, request, seller.username, trading_name, now_ms)
    fault = sandbox.faults.take(seller.username, endpoint, now_ms)
    call = Call(sandbox, request, endpoint, seller, now_ms)
    if fault is None:
        return call
    if fault.kind in _RESPONSE_FAULTS:
        call.fault = fault
        return call
    if fault.kind is FaultKind.LATENCY:
        await asyncio.sleep(fault.delay)
    elif fault.kind is FaultKind.TIMEOUT:
        await _hold(request, fault.delay)
    elif fault.kind is FaultKind.EXPIRED_TOKEN:
        sandbox.tokens.expire(token, now_ms)
        raise _auth_fault_error(fault.kind, endpoint)
    elif fault.kind is FaultKind.REVOKED_TOKEN:
        sandbox.tokens.revoke_family(token)
        raise _auth_fault_error(fault.kind, endpoint)
    else:
        raise _fault_error(fault, endpoint)
    call.now_ms = sandbox.clock.now_ms()
    return call


# --- the three styles --------------------------------------------------------------------------


def _signature_error(error_id: int, message: str) -> EbayApiError:
    long = f"{message} to fulfill the request."
    return EbayApiError(403, [error_entry(error_id, "ACCESS", "REQUEST", message, long)])


async def verify_signature(sandbox: Sandbox, request: Request, seller: Seller) -> None:
    """EU/UK sellers: 403 215001 without a key header, 403 215120 for a bad signature."""
    if not sandbox.config.require_signatures or seller.marketplace_id not in SIGNING_MARKETPLACES:
        return
    jwe = request.headers.get("x-ebay-signature-key")
    if not jwe:
        raise _signature_error(215001, "Missing x-ebay-signature-key header")
    key = sandbox.keys.public_key(jwe)
    signed = SignedRequest(
        method=request.method,
        path=request.url.path,
        authority=request.headers.get("host", ""),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
    )
    if key is None or not check_signature(signed, key):
        raise _signature_error(215120, "Signature validation failed")


async def rest_call(
    sandbox: Sandbox,
    request: Request,
    endpoint: Endpoint,
    accepted: frozenset[str],
    *,
    signed: bool = False,
) -> Call:
    """A REST call with ``Authorization: Bearer <user token>`` holding one of ``accepted``."""
    name_endpoint(request, endpoint)
    token = _token(request, "Bearer")
    grant = _user_grant(sandbox, token, sandbox.clock.now_ms())
    if not grant.scopes & accepted:
        raise insufficient_permissions()
    assert grant.seller is not None and token is not None
    if signed:
        await verify_signature(sandbox, request, grant.seller)
    return await apply_faults(sandbox, request, endpoint, grant.seller, token)


async def post_order_call(sandbox: Sandbox, request: Request, endpoint: Endpoint) -> Call:
    """A Post-Order call: ``Authorization: IAF <user token>`` (Bearer gets 401) and a
    marketplace header."""
    name_endpoint(request, endpoint)
    token = _token(request, "IAF")
    grant = _user_grant(sandbox, token, sandbox.clock.now_ms())
    assert grant.seller is not None and token is not None
    marketplace = request.headers.get("x-ebay-c-marketplace-id")
    if not marketplace:
        raise PostOrderError(
            400, 1001, "Missing required header X-EBAY-C-MARKETPLACE-ID", "X-EBAY-C-MARKETPLACE-ID"
        )
    if marketplace not in MARKETPLACES:  # e.g. "EBAY-US" instead of "EBAY_US"
        raise PostOrderError(
            400, 1001, "Invalid value of header X-EBAY-C-MARKETPLACE-ID", marketplace
        )
    return await apply_faults(sandbox, request, endpoint, grant.seller, token)


async def trading_call(
    sandbox: Sandbox, request: Request, endpoint: Endpoint, auth_n_auth: bool
) -> Call:
    """A Trading call authorised by ``X-EBAY-API-IAF-TOKEN`` (errors come back as XML)."""
    name_endpoint(request, endpoint)
    token = request.headers.get("x-ebay-api-iaf-token", "").strip()
    if not token:
        # Only OAuth tokens exist here, so an Auth'n'Auth token can only be invalid.
        raise trading.invalid_token() if auth_n_auth else trading.missing_token()
    status, grant = sandbox.tokens.inspect(token, sandbox.clock.now_ms())
    if status is TokenStatus.EXPIRED:
        raise trading.expired_token()
    if status is TokenStatus.REVOKED:
        raise trading.revoked_token()
    if grant is None or grant.seller is None:
        raise trading.invalid_token()
    return await apply_faults(sandbox, request, endpoint, grant.seller, token)
