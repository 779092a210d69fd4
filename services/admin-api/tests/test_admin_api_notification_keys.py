"""The notification keys' application token: one eBay stopped taking is replaced at once.

Found by the running-system burst test (tests/e2e/test_push_burst.py): the cached application
token was trusted until its own expiry, so once eBay refused it (HTTP 401) every notification
signed by a key not cached yet was refused with 503 for up to two hours.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from admin_api.notifications import NotificationKeys
from common.settings import EbayApiSettings

EBAY = EbayApiSettings(
    api_base_url="https://api.ebay.test", client_id="app-id", client_secret=SecretStr("app-secret")
)
PEM = "-----BEGIN PUBLIC KEY-----AAAA-----END PUBLIC KEY-----"


class Ebay:
    """Issues tokens app-token-1, app-token-2, …; getPublicKey takes only the newest."""

    def __init__(self) -> None:
        self.issued = 0
        self.calls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if request.url.path == "/identity/v1/oauth2/token":
            self.issued += 1
            return httpx.Response(
                200, json={"access_token": f"app-token-{self.issued}", "expires_in": 7200}
            )
        if request.headers["authorization"] != f"Bearer app-token-{self.issued}":
            return httpx.Response(401, json={"errors": [{"errorId": 1001}]})
        return httpx.Response(200, json={"key": PEM, "algorithm": "ECDSA", "digest": "SHA1"})

    def revoke(self) -> None:
        """eBay stops taking the tokens issued so far (as an early expiry or a revocation)."""
        self.issued += 1


async def test_a_refused_application_token_is_replaced_and_the_key_fetched() -> None:
    ebay = Ebay()
    async with httpx.AsyncClient(transport=httpx.MockTransport(ebay.handle)) as http:
        keys = NotificationKeys(http, EBAY, cache_seconds=3600)
        assert await keys.get("kid-1") is not None
        ebay.revoke()
        assert await keys.get("kid-2") is not None
    token, key = "/identity/v1/oauth2/token", "/commerce/notification/v1/public_key/"
    assert ebay.calls == [token, f"{key}kid-1", f"{key}kid-2", token, f"{key}kid-2"]
