"""Bearer-token check, scope check and fault injection shared by the REST APIs."""

from enum import StrEnum

from ebay_sandbox.errors import (
    EbayApiError,
    error_entry,
    insufficient_permissions,
    invalid_access_token,
    too_many_requests,
)
from ebay_sandbox.faults import Fault, FaultKind
from ebay_sandbox.model import Seller
from ebay_sandbox.state import Sandbox

SCOPE_ROOT = "https://api.ebay.com/oauth/api_scope"


class Api(StrEnum):
    """REST APIs served by the sandbox."""

    FULFILLMENT = "fulfillment"
    IDENTITY = "identity"


_IDENTITY = (
    "readonly",
    "status.readonly",
    "name.readonly",
    "address.readonly",
    "email.readonly",
    "phone.readonly",
)
ACCEPTED_SCOPES: dict[Api, frozenset[str]] = {
    Api.FULFILLMENT: frozenset(
        {f"{SCOPE_ROOT}/sell.fulfillment", f"{SCOPE_ROOT}/sell.fulfillment.readonly"}
    ),
    Api.IDENTITY: frozenset(f"{SCOPE_ROOT}/commerce.identity.{s}" for s in _IDENTITY),
}

_SYSTEM_ERRORS = {
    Api.FULFILLMENT: error_entry(30500, "API_FULFILLMENT", "APPLICATION", "System error"),
    Api.IDENTITY: error_entry(
        140000,
        "API_IDENTITY",
        "APPLICATION",
        "There was a problem with an eBay internal system or process. "
        "Contact eBay developer support for assistance.",
    ),
}


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _fault_error(fault: Fault, api: Api) -> EbayApiError:
    if fault.kind is FaultKind.HTTP_500:
        return EbayApiError(500, [_SYSTEM_ERRORS[api]])
    if fault.kind is FaultKind.RETRY_AFTER_429:
        return too_many_requests(fault.retry_after if fault.retry_after is not None else 1)
    return too_many_requests(None)


def authorize_call(sandbox: Sandbox, authorization: str | None, api: Api) -> Seller:
    """Seller behind a valid user token; raises eBay's 401/403 or an injected fault."""
    token = _bearer(authorization)
    grant = sandbox.tokens.access_grant(token, sandbox.clock.now_ms()) if token else None
    if grant is None:
        raise invalid_access_token()
    if not grant.scopes & ACCEPTED_SCOPES[api]:
        raise insufficient_permissions()
    fault = sandbox.faults.take(grant.seller.username)
    if fault is not None:
        raise _fault_error(fault, api)
    return grant.seller
