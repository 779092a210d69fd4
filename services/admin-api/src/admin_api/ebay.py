"""The eBay call the admin API makes itself: Identity getUser, right after a connect."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.rest import get_json


@dataclass(frozen=True)
class EbayUser:
    user_id: str
    username: str
    marketplace_id: str


async def get_user(http: httpx.AsyncClient, apiz_base_url: str, token: SecretStr) -> EbayUser:
    """``GET /commerce/identity/v1/user/``: who consented, and where they registered."""
    body = await get_json(
        http, f"{apiz_base_url}/commerce/identity/v1/user/", token=token, params={}
    )
    try:
        return EbayUser(
            user_id=str(body["userId"]),
            username=str(body["username"]),
            marketplace_id=str(body["registrationMarketplaceId"]),
        )
    except KeyError as exc:
        raise EbayPayloadError(f"getUser answered without {exc.args[0]}") from exc
