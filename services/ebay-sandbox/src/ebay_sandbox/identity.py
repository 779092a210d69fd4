"""Commerce Identity API (apiz host): getUser."""

from typing import Any

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import scopes
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.gateway import rest_call
from ebay_sandbox.paging import dumps
from ebay_sandbox.state import SandboxDep
from ebay_sandbox.world.model import Seller

router = APIRouter()
ACCEPTED = scopes(
    *(
        f"commerce.identity.{s}"
        for s in (
            "readonly",
            "status.readonly",
            "name.readonly",
            "address.readonly",
            "email.readonly",
            "phone.readonly",
        )
    )
)
GET_USER = Endpoint(
    "getUser", frozenset({"identity"}), ApiStyle.REST, error_id=140000, domain="API_IDENTITY"
)


def user_response(seller: Seller) -> dict[str, Any]:
    """``UserResponse`` with the public fields the default scope returns."""
    body: dict[str, Any] = {
        "userId": seller.user_id,
        "username": seller.username,
        "accountType": seller.account_type,
        "registrationMarketplaceId": seller.marketplace_id,
        "status": "CONFIRMED",
    }
    if seller.account_type == "BUSINESS":
        body["businessAccount"] = {
            "name": f"{seller.username.replace('_', ' ').title()} Ltd",
            "email": f"{seller.username}@example.com",
        }
    return body


@router.get("/commerce/identity/v1/user/")
@router.get("/commerce/identity/v1/user", include_in_schema=False)
async def get_user(request: Request, sandbox: SandboxDep) -> Response:
    """The account behind the user access token."""
    call = await rest_call(sandbox, request, GET_USER, ACCEPTED)
    return call.respond(dumps(user_response(call.seller)))
