"""Commerce Identity API: getUser."""

from typing import Annotated, Any

from fastapi import APIRouter, Header

from ebay_sandbox.auth import Api, authorize_call
from ebay_sandbox.model import Seller
from ebay_sandbox.state import SandboxDep

router = APIRouter()


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
async def get_user(
    sandbox: SandboxDep, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """The account behind the user access token."""
    seller = authorize_call(sandbox, authorization, Api.IDENTITY)
    return user_response(seller)
