"""In-memory store of authorization codes, refresh tokens and access tokens."""

from dataclasses import dataclass

from ebay_sandbox.ids import opaque_token
from ebay_sandbox.model import Seller

CODE_TTL_S = 299
ACCESS_TTL_S = 7200
REFRESH_TTL_S = 47_304_000


@dataclass
class Grant:
    """Common state of a code or token: who it is for, what it may do, until when."""

    seller: Seller
    scopes: frozenset[str]
    expires_ms: int
    revoked: bool = False
    parent: str | None = None  # refresh token an access token was minted from

    def valid(self, now_ms: int) -> bool:
        """Not revoked and not expired at ``now_ms``."""
        return not self.revoked and now_ms < self.expires_ms


class TokenStore:
    """Codes are single use; revoking a refresh token also revokes its access tokens."""

    def __init__(self) -> None:
        self._codes: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._access: dict[str, Grant] = {}

    def issue_code(self, seller: Seller, scopes: frozenset[str], now_ms: int) -> str:
        """New authorization code valid for 299 s."""
        code = opaque_token("code")
        self._codes[code] = Grant(seller, scopes, now_ms + CODE_TTL_S * 1000)
        return code

    def redeem_code(self, code: str, now_ms: int) -> Grant | None:
        """Consume a code; None when unknown, used or expired."""
        grant = self._codes.get(code)
        if grant is None or not grant.valid(now_ms):
            return None
        grant.revoked = True  # single use
        return grant

    def issue_refresh(self, seller: Seller, scopes: frozenset[str], now_ms: int) -> str:
        """New refresh token (about 18 months)."""
        token = opaque_token("refresh")
        self._refresh[token] = Grant(seller, scopes, now_ms + REFRESH_TTL_S * 1000)
        return token

    def issue_access(
        self, seller: Seller, scopes: frozenset[str], now_ms: int, parent: str | None
    ) -> str:
        """New access token (2 hours of sandbox time)."""
        token = opaque_token("access")
        self._access[token] = Grant(seller, scopes, now_ms + ACCESS_TTL_S * 1000, parent=parent)
        return token

    def refresh_grant(self, token: str, now_ms: int) -> Grant | None:
        """The refresh token's grant if still usable."""
        grant = self._refresh.get(token)
        return grant if grant is not None and grant.valid(now_ms) else None

    def access_grant(self, token: str, now_ms: int) -> Grant | None:
        """The access token's grant if still usable."""
        grant = self._access.get(token)
        return grant if grant is not None and grant.valid(now_ms) else None

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token; False when the token is unknown."""
        if token in self._refresh:
            self._refresh[token].revoked = True
            for grant in self._access.values():
                if grant.parent == token:
                    grant.revoked = True
            return True
        if token in self._access:
            self._access[token].revoked = True
            return True
        return False
